import Foundation

/// Lines of a file read 64 KiB at a time, without their line ending (LF or CRLF). A line longer
/// than `maxLine` bytes is returned as `.tooLong` and not kept.
public struct LineStream {
    public enum Line: Sendable, Hashable {
        case text(String)
        case tooLong
        /// Not UTF-8 at this byte offset: decoding it would alter a label or a value.
        case notUTF8(offset: Int)

        /// Why the line cannot be read (nil for text).
        public var problem: String? {
            switch self {
            case .text: nil
            case .tooLong: "the line is longer than \(LineStream.maxLine) bytes"
            case .notUTF8(let offset): "the line is not valid UTF-8 (at byte \(offset + 1)); Medic reads samples unchanged or not at all"
            }
        }
    }

    public static let maxLine = 1 << 20
    public let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false

    public init(handle: FileHandle) { self.handle = handle }

    /// The next line; nil at the end of the file. Throws the errno of a read that failed.
    public mutating func next() throws -> Line? {
        var skipping = false
        while true {
            if let newline = buffer[position...].firstIndex(of: 0x0A) {
                let line = buffer[position..<newline]
                position = newline + 1
                return skipping ? .tooLong : Self.text(line)
            }
            if atEnd {
                guard position < buffer.count else { return skipping ? .tooLong : nil }
                let line = buffer[position...]
                position = buffer.count
                return skipping ? .tooLong : Self.text(line)
            }
            if buffer.count - position > Self.maxLine {
                skipping = true
                buffer.removeAll(keepingCapacity: true)
            } else {
                buffer.removeSubrange(0..<position)
            }
            position = 0
            // read(2), not FileHandle.read(upToCount:), which waits for the whole count: a live
            // feed on a pipe (`tail -f ... | medic watch --input -`) must be read as it comes.
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let count = chunk.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                buffer.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                atEnd = true
            } else if errno != EINTR {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        }
    }

    private static func text(_ line: ArraySlice<UInt8>) -> Line {
        let bytes = line.last == 0x0D ? line.dropLast() : line
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return .text(String(decoding: bytes, as: UTF8.self))
            case .error: return .notUTF8(offset: offset)
            }
        }
    }
}
