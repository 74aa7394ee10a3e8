/// Where bytes stop being UTF-8: every reader that must pass a value unchanged or refuse it
/// (arguments, documents, feed lines) asks the same question the same way.
public enum UTF8Validation {
    /// The offset of the first byte that is not part of valid UTF-8; nil when all are.
    public static func firstInvalidByte<Bytes: Sequence>(in bytes: Bytes) -> Int? where Bytes.Element == UInt8 {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }
}
