import Crypto

/// SHA-256 as lowercase hex, for fault signature ids, incident-pattern ids and the file names of
/// long target locks: swift-crypto's, which the HTTP client's TLS already builds, rather than a
/// hand-written one. Checked against the FIPS 180-2 example vectors in `SHA256Tests`.
package enum SHA256Hex {
    /// The 32-byte digest of `message` as 64 lowercase hex digits.
    package static func of(_ message: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(Crypto.SHA256.hash(data: message).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] })
    }
}
