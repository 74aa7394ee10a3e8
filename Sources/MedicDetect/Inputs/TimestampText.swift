import MedicText

/// Epoch seconds written back as text, for reports (the inverse of `SeriesTimestamp.parse` for
/// RFC 3339).
public enum TimestampText {
    /// `2024-05-01T10:05:00Z`, with milliseconds when the time has a fraction
    /// (`2024-05-01T10:05:00.250Z`, rounded to the nearest); `-` for a time that is not finite
    /// or not within 10^14 seconds of 1970.
    public static func rfc3339(_ seconds: Double) -> String {
        Timestamp(secondsSince1970: seconds, roundedToMilliseconds: .toNearestOrAwayFromZero)?.rfc3339(.millisecondsUnlessZero) ?? "-"
    }
}
