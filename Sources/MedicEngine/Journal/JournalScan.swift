/// A line of a run journal that cannot be trusted: not written by Medic as it stands (a changed
/// byte, a lost or repeated record, text that is no record). Unlike a torn last line, which a
/// crash leaves, damage is never repaired: `medic resume` refuses the run and `medic show` says
/// what is damaged.
public struct JournalDamage: Sendable, Hashable, Codable, CustomStringConvertible {
    public var path: String
    /// 1-based.
    public var line: Int
    public var reason: String

    public var description: String { "\(path):\(line): \(reason)" }
}

/// A journal's bytes read line by line: each whole line must be a sealed record
/// (`JournalChecksum`) whose `seq` is its line number, the first a `run_started`. What follows
/// the last newline is a record missing only its newline (kept: a crash can cut a write just
/// before it), or a torn write (a crash cut the line short: no checksum can match it), or
/// damage (a whole record with other bytes after it, which no cut write leaves).
struct JournalScan {
    enum Tail: Equatable {
        case none
        /// A whole, sealed record that lacks its newline.
        case unterminatedRecord
        /// A torn write from this byte offset on.
        case torn(at: Int)
    }

    var records: [JournalRecord] = []
    var damage: [JournalDamage] = []
    var tail = Tail.none
    /// Written by a Medic from before journal lines were sealed: no line of the file carries a
    /// checksum. Read line by line as then (a line that does not decode, or a `seq` out of
    /// place, is still damage), and never appended to: one sealed line would make the rest look
    /// damaged. A single changed byte cannot make a sealed journal look like one: every line
    /// would have to lose its seal.
    var legacy = false

    init(_ bytes: [UInt8], path: String) {
        let newline = UInt8(ascii: "\n")
        legacy = !bytes.isEmpty && !Self.contains(bytes, Array(#","crc":""#.utf8))
        var start = 0
        var number = 0
        while let end = bytes[start...].firstIndex(of: newline) {
            number += 1
            check(bytes[start..<end], number: number, path: path)
            start = end + 1
        }
        guard start < bytes.count else { return }
        let rest = bytes[start...]
        number += 1
        if legacy {
            if (try? JournalCodec.decode(Substring(String(decoding: rest, as: UTF8.self)))) != nil {
                tail = .unterminatedRecord
                check(rest, number: number, path: path)
            } else {
                tail = .torn(at: start)
            }
        } else if case .success = JournalChecksum.unseal(rest) {
            tail = .unterminatedRecord
            check(rest, number: number, path: path)
        } else if let end = Self.sealedRecordEnd(in: rest) {
            damage.append(JournalDamage(path: path, line: number, reason: "a whole record followed by \(rest.endIndex - end) byte(s) "
                + "that are not its newline"))
        } else {
            tail = .torn(at: start)
        }
    }

    private mutating func check(_ line: ArraySlice<UInt8>, number: Int, path: String) {
        func damaged(_ reason: String) { damage.append(JournalDamage(path: path, line: number, reason: reason)) }
        guard !line.isEmpty else { return damaged("an empty line") }
        let body: [UInt8]
        if legacy {
            body = Array(line)
        } else {
            switch JournalChecksum.unseal(line) {
            case .success(let bytes): body = bytes
            case .failure(let why): return damaged(why.description)
            }
        }
        let record: JournalRecord
        do {
            record = try JournalCodec.decode(Substring(String(decoding: body, as: UTF8.self)))
        } catch {
            return damaged("the record does not decode: \(error)")
        }
        guard record.seq == number else {
            return damaged("the record's seq is \(record.seq), where line \(number) must hold seq \(number) "
                + "(a record is missing, repeated or out of order)")
        }
        if number == 1 && record.event != .runStarted {
            return damaged("the first record is \(record.event.rawValue), not run_started")
        }
        records.append(record)
    }

    private static func contains(_ bytes: [UInt8], _ needle: [UInt8]) -> Bool {
        guard bytes.count >= needle.count else { return false }
        var index = 0
        while index + needle.count <= bytes.count {
            if bytes[index] == needle[0], bytes[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }

    /// The end of a sealed record at the start of `bytes` that has more bytes after it, if any.
    private static func sealedRecordEnd(in bytes: ArraySlice<UInt8>) -> Int? {
        let key = Array(#","crc":""#.utf8)
        var index = bytes.startIndex
        while index + JournalChecksum.sealLength < bytes.endIndex {
            if bytes[index] == key[0], bytes[index..<(index + key.count)].elementsEqual(key) {
                let end = index + JournalChecksum.sealLength
                if case .success = JournalChecksum.unseal(bytes[bytes.startIndex..<end]) { return end }
            }
            index += 1
        }
        return nil
    }
}
