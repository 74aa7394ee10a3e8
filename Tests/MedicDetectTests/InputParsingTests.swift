import MedicDetect
import XCTest

final class InputParsingTests: XCTestCase {
    // MARK: Helpers

    private func sample<P: SampleLineParser>(_ parser: inout P, _ line: String, number: Int = 1,
                                             file: StaticString = #filePath, line testLine: UInt = #line) -> Sample? {
        switch parser.parse(line: line, number: number) {
        case .success(let s): return s
        case .failure(let e):
            XCTFail("\(e)", file: file, line: testLine)
            return nil
        }
    }

    private func error<P: SampleLineParser>(_ parser: inout P, _ line: String, number: Int = 1,
                                            file: StaticString = #filePath, line testLine: UInt = #line) -> InputError? {
        switch parser.parse(line: line, number: number) {
        case .success(let s):
            XCTFail("expected an error, read \(String(describing: s))", file: file, line: testLine)
            return nil
        case .failure(let e): return e
        }
    }

    // MARK: JSON lines

    func testJSONLinesReadsEpochAndRFC3339Times() {
        var p = JSONLinesSampleParser()
        XCTAssertEqual(sample(&p, #"{"ts": 1714557600, "metric": "disk_usage_percent", "labels": {"host": "a", "path": "/var"}, "value": 91.5}"#),
                       Sample(metric: "disk_usage_percent", labels: ["host": "a", "path": "/var"], time: 1_714_557_600, value: 91.5))
        XCTAssertEqual(sample(&p, #"{"metric":"up","value":1,"ts":1714557600.25}"#)?.time, 1_714_557_600.25, "keys in any order, fractions")
        // RFC 3339 with an offset and a fraction: 12:00:00.250+02:00 is 10:00:00.250 UTC.
        XCTAssertEqual(sample(&p, #"{"ts": "2024-05-01T12:00:00.250+02:00", "metric": "up", "value": 1}"#)?.time, 1_714_557_600.25)
        XCTAssertEqual(sample(&p, #"{"ts": "2024-05-01T05:30:00-04:30", "metric": "up", "value": 1}"#)?.time, 1_714_557_600)
        XCTAssertEqual(sample(&p, #"{"ts": "2024-05-01T10:00:00Z", "metric": "up", "value": 1}"#)?.time, 1_714_557_600)
        XCTAssertEqual(sample(&p, #"{"ts": "1714557600", "metric": "up", "value": 1}"#)?.time, 1_714_557_600, "epoch seconds as text")
        XCTAssertEqual(sample(&p, #"{"ts": 1.7145576e9, "metric": "up", "value": -2.5E-1}"#)?.value, -0.25)
    }

    func testJSONLinesValuesAsTextNaNAndInfinity() {
        var p = JSONLinesSampleParser()
        XCTAssertTrue(sample(&p, #"{"ts": 0, "metric": "up", "value": "NaN"}"#)!.value.isNaN)
        XCTAssertEqual(sample(&p, #"{"ts": 0, "metric": "up", "value": "+Inf"}"#)?.value, .infinity)
        XCTAssertEqual(sample(&p, #"{"ts": 0, "metric": "up", "value": "-Inf"}"#)?.value, -.infinity)
        XCTAssertEqual(sample(&p, #"{"ts": 0, "metric": "up", "value": "0.5"}"#)?.value, 0.5, "the Prometheus HTTP API's text values")
        XCTAssertEqual(error(&p, #"{"ts": 0, "metric": "up", "value": NaN}"#)?.reason,
                       #""value": JSON has no NaN or Infinity; write them as text: "NaN", "+Inf", "-Inf" (at column 36)"#)
    }

    func testJSONLinesDecodesEscapesAndIgnoresUnknownKeys() {
        var p = JSONLinesSampleParser()
        let s = sample(&p, #"{"ts": 0, "metric": "up", "labels": {"path": "C:\\dir \"x\"\n\u00e9\ud83d\ude00\/"}, "value": 1, "extra": {"a": [1, {"b": null}, true, "s"]}}"#)
        XCTAssertEqual(s?.labels, ["path": "C:\\dir \"x\"\né😀/"])
        XCTAssertEqual(sample(&p, #"{"ts": 0, "metric": "up", "labels": null, "value": 1}"#)?.labels, [:])
        XCTAssertNil(sample(&p, "   "), "a blank line holds no sample")
        XCTAssertNil(sample(&p, ""))
    }

    func testJSONLinesErrorsNameTheLineAndTheReason() {
        var p = JSONLinesSampleParser()
        let cases: [(String, String)] = [
            (#"{"metric": "up", "value": 1}"#, #"missing "ts" (epoch seconds or an RFC 3339 time)"#),
            (#"{"ts": 0, "value": 1}"#, #"missing "metric""#),
            (#"{"ts": 0, "metric": "up"}"#, #"missing "value""#),
            (#"{"ts": 0, "ts": 1, "metric": "up", "value": 1}"#, #"key "ts" appears twice (at column 17)"#),
            (#"{"ts": "yesterday", "metric": "up", "value": 1}"#, #""ts" 'yesterday' is not a time (RFC 3339 such as 2024-05-01T10:00:00Z, or epoch seconds) (at column 8)"#),
            (#"{"ts": "2024-02-30T00:00:00Z", "metric": "up", "value": 1}"#, #""ts" '2024-02-30T00:00:00Z' is not a time (RFC 3339 such as 2024-05-01T10:00:00Z, or epoch seconds) (at column 8)"#),
            (#"{"ts": true, "metric": "up", "value": 1}"#, #""ts" must be epoch seconds (a number) or an RFC 3339 time in quotes (at column 8)"#),
            (#"{"ts": 0, "metric": "9lives", "value": 1}"#, #""metric" must be a metric name such as "disk_usage_percent" (letters, digits, _ and :) (at column 21)"#),
            (#"{"ts": 0, "metric": "up", "labels": {"host": 1}, "value": 1}"#, #"the value of label "host" must be text in double quotes (at column 46)"#),
            (#"{"ts": 0, "metric": "up", "labels": {"0x": "a"}, "value": 1}"#, "label name '0x' is not valid (letters, digits and _, not starting with a digit) (at column 44)"),
            (#"{"ts": 0, "metric": "up", "labels": ["a"], "value": 1}"#, #""labels" must be an object of label name to text (at column 37)"#),
            (#"{"ts": 0, "metric": "up", "value": "lots"}"#, #""value" 'lots' is not a number, NaN, +Inf or -Inf (at column 36)"#),
            (#"{"ts": 0, "metric": "up", "value": 01}"#, #""value" must be a number, or text such as "NaN" (at column 36)"#),
            (#"{"ts": 0, "metric": "up", "value": 1} trailing"#, "unexpected text after the object (at column 39)"),
            (#"{"ts": 0, "metric": "up", "value": 1"#, "the object is not closed: missing '}' (at column 37)"),
            (#"{"ts": 0, "metric": "up\#u{01}", "value": 1}"#, "a control character inside a string must be escaped (at column 24)"),
            (#"{"ts": 0, "metric": "up", "labels": {"a": "\q"}, "value": 1}"#, #"'\q' is not a JSON escape (at column 44)"#),
            (#"{"ts": 0, "metric": "up", "labels": {"a": "\ud83d"}, "value": 1}"#, #"a \u escape starts a surrogate pair that is not completed (at column 50)"#),
            (#"[1, 2]"#, #"expected a JSON object such as {"ts": 1714557600, "metric": "up", "value": 1} (at column 1)"#),
            (#"{"ts": 0, "metric": "up", "value": 1,}"#, #"expected a key in double quotes (at column 38)"#),
            (#"{"ts": 0, "metric": "up", "value": 1, "x": "#, "missing the value of \"x\" (at column 44)"),
        ]
        for (index, (line, reason)) in cases.enumerated() {
            let e = error(&p, line, number: index + 7)
            XCTAssertEqual(e?.line, index + 7, line)
            XCTAssertEqual(e?.reason, reason, line)
        }
        XCTAssertEqual(InputError(line: 3, reason: "x").description, "line 3: x")
    }

    func testJSONLinesRefusesDeepNestingWithoutExhaustingTheStack() {
        var p = JSONLinesSampleParser()
        let deep = #"{"ts": 0, "metric": "up", "value": 1, "x": "# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        XCTAssertEqual(error(&p, deep)?.reason.hasPrefix("nested more than 64 levels deep"), true)
    }

    // MARK: CSV

    func testCSVWithMetricAndLabelColumns() {
        var p = CSVSampleParser()
        XCTAssertNil(sample(&p, "timestamp,metric,value,labels", number: 1))
        XCTAssertEqual(p.columns?.count, 4)
        XCTAssertEqual(sample(&p, "2024-05-01T10:00:00Z,disk_usage_percent,91.5,host=a;path=/var", number: 2),
                       Sample(metric: "disk_usage_percent", labels: ["host": "a", "path": "/var"], time: 1_714_557_600, value: 91.5))
        XCTAssertEqual(sample(&p, #" 1714557660 , up , 1 , "k=a,b;q=x=y" "#, number: 3),
                       Sample(metric: "up", labels: ["k": "a,b", "q": "x=y"], time: 1_714_557_660, value: 1), "quoted, with a comma; = in a value")
        XCTAssertEqual(sample(&p, "2024-05-01 10:00:00,up,NaN,", number: 4)?.labels, [:])
        XCTAssertNil(sample(&p, "", number: 5))
        XCTAssertEqual(sample(&p, #"2024-05-01T12:00:00.5+02:00,up,"+Inf",job=x"#, number: 6)?.time, 1_714_557_600.5)
    }

    func testCSVColumnsInAnyOrderAndTheNABFormWithAGivenMetric() {
        var reordered = CSVSampleParser()
        XCTAssertNil(sample(&reordered, "Value,Timestamp,Metric"))
        XCTAssertEqual(sample(&reordered, "3,60,up", number: 2), Sample(metric: "up", time: 60, value: 3))
        var nab = CSVSampleParser(metric: "machine_temperature")
        XCTAssertNil(sample(&nab, "timestamp,value"))
        XCTAssertEqual(sample(&nab, "2013-12-02 21:15:00,73.967", number: 2),
                       Sample(metric: "machine_temperature", time: 1_386_018_900, value: 73.967))
    }

    func testCSVHeaderProblemsAndMalformedRows() {
        var noMetric = CSVSampleParser()
        XCTAssertEqual(error(&noMetric, "timestamp,value")?.reason,
                       "the header has no metric column (timestamp,value) and no metric name was given for its rows")
        XCTAssertEqual(noMetric.columns, nil)
        XCTAssertEqual(error(&noMetric, "0,1", number: 2)?.reason, "no row can be read: the header on line 1 could not be")
        var headless = CSVSampleParser()
        XCTAssertEqual(error(&headless, "2024-05-01T10:00:00Z,up,1")?.reason,
                       "expected a header line naming the columns, such as timestamp,metric,value; found a row")
        var unknown = CSVSampleParser()
        XCTAssertEqual(error(&unknown, "timestamp,metric,value,host")?.reason,
                       "unknown column 'host'; the columns are timestamp, metric, value and labels")
        var twice = CSVSampleParser()
        XCTAssertEqual(error(&twice, "timestamp,value,metric,value")?.reason, "column 'value' is named twice")
        var p = CSVSampleParser()
        _ = sample(&p, "timestamp,metric,value,labels")
        let rows: [(String, String)] = [
            ("0,up,1", "expected 4 fields, as in the header on line 1; found 3"),
            ("yesterday,up,1,", "'yesterday' is not a timestamp (RFC 3339, YYYY-MM-DD HH:MM:SS or epoch seconds)"),
            ("2024-13-01T00:00:00Z,up,1,", "'2024-13-01T00:00:00Z' is not a timestamp (RFC 3339, YYYY-MM-DD HH:MM:SS or epoch seconds)"),
            ("0,up,lots,", "'lots' is not a number, NaN, +Inf or -Inf"),
            ("0,up,,", "'' is not a number, NaN, +Inf or -Inf"),
            ("0,up,0x1p3,", "'0x1p3' is not a number, NaN, +Inf or -Inf"),
            ("0,up-time,1,", "'up-time' is not a metric name (letters, digits, _ and :, not starting with a digit)"),
            ("0,up,1,host", "label 'host' is not name=value (labels look like host=a;path=/var)"),
            ("0,up,1,9x=a", "'9x' is not a label name (letters, digits and _, not starting with a digit)"),
            ("0,up,1,a=1;a=2", "label 'a' is given twice"),
            (#"0,up,1,"a=1"#, #"a quoted field is not closed: missing '"'"#),
            (#"0,up,1,"a=1"x"#, "text after a quoted field; expected ','"),
        ]
        for (index, (row, reason)) in rows.enumerated() {
            let e = error(&p, row, number: index + 2)
            XCTAssertEqual(e?.line, index + 2, row)
            XCTAssertEqual(e?.reason, reason, row)
        }
        XCTAssertNotNil(sample(&p, "0,up,1,a=1", number: 20), "a bad row does not stop the next")
    }

    // MARK: Prometheus text exposition

    func testPrometheusTextCommentsSamplesAndTimestamps() {
        var p = PrometheusTextParser(defaultTime: 1000)
        XCTAssertNil(sample(&p, "# HELP http_requests_total The total number of HTTP requests."))
        XCTAssertNil(sample(&p, "# TYPE http_requests_total counter"))
        XCTAssertNil(sample(&p, "# a comment"))
        XCTAssertNil(sample(&p, "#"))
        XCTAssertNil(sample(&p, "  "))
        XCTAssertEqual(sample(&p, #"http_requests_total{method="post",code="200"} 1027 1395066363000"#),
                       Sample(metric: "http_requests_total", labels: ["method": "post", "code": "200"], time: 1_395_066_363, value: 1027))
        XCTAssertEqual(sample(&p, "metric_without_timestamp_and_labels 12.47"), Sample(metric: "metric_without_timestamp_and_labels", time: 1000, value: 12.47))
        XCTAssertEqual(sample(&p, #"rpc_duration_seconds{quantile="0.99",} 76656 -1500"#)?.time, -1.5, "a trailing comma; a negative time")
        XCTAssertEqual(sample(&p, #"http_request_duration_seconds_bucket{le="+Inf"} 144320"#)?.labels, ["le": "+Inf"])
        XCTAssertEqual(sample(&p, "\tspaced_metric  { a = \"1\" , b=\"2\" }\t 3 \t"), Sample(metric: "spaced_metric", labels: ["a": "1", "b": "2"], time: 1000, value: 3))
        XCTAssertEqual(sample(&p, #"{"my.dotted.metric", job="x"} 1"#), Sample(metric: "my.dotted.metric", labels: ["job": "x"], time: 1000, value: 1))
        XCTAssertEqual(sample(&p, #"exemplar_total 5 # {trace_id="abc"} 1"#)?.value, 5)
    }

    func testPrometheusTextEscapesAndSpecialValues() {
        var p = PrometheusTextParser(defaultTime: 0)
        let s = sample(&p, #"msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9"#)
        XCTAssertEqual(s?.labels, ["path": #"C:\DIR\FILE.TXT"#, "error": "Cannot find file:\n\"FILE.TXT\""])
        XCTAssertEqual(s?.value, 1.458255915e9)
        XCTAssertTrue(sample(&p, "m NaN")!.value.isNaN)
        XCTAssertEqual(sample(&p, "m +Inf")?.value, .infinity)
        XCTAssertEqual(sample(&p, "m -Inf")?.value, -.infinity)
        XCTAssertEqual(sample(&p, #"m{v="{}, =\"} "} 1"#)?.labels, ["v": #"{}, ="} "#], "braces, commas and quotes inside a value")
    }

    func testPrometheusTextMalformedLines() {
        var p = PrometheusTextParser(defaultTime: 0)
        let cases: [(String, String)] = [
            ("# TYPE m gauges", "# TYPE m: 'gauges' is not a metric type (counter, gauge, histogram, summary, untyped) (at column 16)"),
            ("# TYPE", "# TYPE must name a metric (at column 7)"),
            ("# HELP 9m text", "# HELP must name a metric, found '9m' (at column 10)"),
            ("m", "missing the value after 'm' (at column 2)"),
            ("m{a=\"1\"}", "missing the value after 'm' (at column 9)"),
            ("m lots", "'lots' is not a number, NaN, +Inf or -Inf (at column 7)"),
            ("m 1 1.5", "'1.5' is not a timestamp (an integer of milliseconds since the epoch) (at column 8)"),
            ("m 1 2 3", "unexpected text after the sample (at column 7)"),
            (#"m{a="1" 1"#, "expected ',' or '}' in the label set (at column 9)"),
            (#"m{a="1"#, #"a quoted value is not closed: missing '"' (at column 7)"#),
            (#"m{a="\t"} 1"#, #"'\t' is not an escape of the text format (\\, \" and \n are) (at column 6)"#),
            (#"m{a=1} 1"#, "the value of label 'a' must be in double quotes (at column 5)"),
            (#"m{a="1",a="2"} 1"#, "label 'a' appears twice (at column 14)"),
            (#"m{9a="1"} 1"#, "expected a label name (letters, digits and _) (at column 3)"),
            (#"m{a:b="1"} 1"#, "expected a label name (letters, digits and _) (at column 6)"),
            (#"m{"x", "y"} 1"#, "the metric is named twice (at column 6)"),
            (#"{a="1"} 1"#, "the sample has no metric name (at column 8)"),
            ("m-x 1", "unexpected '-' in the metric name (at column 2)"),
            ("9m 1", "expected a metric name, a comment or a blank line; a sample looks like name{label=\"value\"} 1 (at column 1)"),
        ]
        for (index, (line, reason)) in cases.enumerated() {
            let e = error(&p, line, number: index + 1)
            XCTAssertEqual(e?.line, index + 1, line)
            XCTAssertEqual(e?.reason, reason, line)
        }
        var noTime = PrometheusTextParser()
        XCTAssertEqual(error(&noTime, "m 1")?.reason, "the sample has no timestamp, and no scrape time was given for it")
    }

    func testAWholeScrapeBodyWithCRLFLines() {
        var p = PrometheusTextParser(defaultTime: 50)
        let body = "# TYPE up gauge\r\nup{job=\"a\"} 1\r\nbad line here\r\n\r\nup{job=\"b\"} 0 60000"
        let batch = p.parseAll(Array(body.utf8))
        XCTAssertEqual(batch.samples, [Sample(metric: "up", labels: ["job": "a"], time: 50, value: 1),
                                       Sample(metric: "up", labels: ["job": "b"], time: 60, value: 0)])
        XCTAssertEqual(batch.errors.map(\.line), [3])
    }

    func testAScrapeLineThatIsNotUTF8IsAnErrorNotALabelWithReplacementCharacters() {
        var p = PrometheusTextParser(defaultTime: 50)
        let body = Array("up{zone=\"eu".utf8) + [0xFF] + Array("\"} 1\nup{zone=\"us\"} 0\n".utf8)
        let batch = p.parseAll(body)
        XCTAssertEqual(batch.samples, [Sample(metric: "up", labels: ["zone": "us"], time: 50, value: 0)])
        XCTAssertEqual(batch.errors, [InputError(line: 1, reason: "the line is not valid UTF-8 (at byte 12)")])
    }

    // MARK: Formats and times

    func testFormatsFromNamesPathsAndFirstLines() {
        XCTAssertEqual(SampleFormat(path: "data/cpu.CSV"), .csv)
        XCTAssertEqual(SampleFormat(path: "feed.jsonl"), .jsonLines)
        XCTAssertEqual(SampleFormat(path: "feed.ndjson"), .jsonLines)
        XCTAssertEqual(SampleFormat(path: "scrape.prom"), .prometheus)
        XCTAssertNil(SampleFormat(path: "data.d/feed"))
        XCTAssertNil(SampleFormat(path: "feed.txt"))
        XCTAssertEqual(SampleFormat(name: "JSON"), .jsonLines)
        XCTAssertEqual(SampleFormat(name: "prom"), .prometheus)
        XCTAssertNil(SampleFormat(name: "xml"))
        XCTAssertEqual(SampleFormat(firstLine: #"  {"ts": 0}"#), .jsonLines)
        XCTAssertEqual(SampleFormat(firstLine: "# HELP up x"), .prometheus)
        XCTAssertEqual(SampleFormat(firstLine: "timestamp,metric,value"), .csv)
        var parser = SampleFormat.csv.parser(metric: "cpu")
        _ = parser.parse(line: "timestamp,value", number: 1)
        XCTAssertEqual(try parser.parse(line: "0,5", number: 2).get(), Sample(metric: "cpu", time: 0, value: 5))
    }

    func testTimestampsAreWrittenBackAsRFC3339() {
        XCTAssertEqual(TimestampText.rfc3339(1_714_557_600), "2024-05-01T10:00:00Z")
        XCTAssertEqual(TimestampText.rfc3339(1_714_557_600.25), "2024-05-01T10:00:00.250Z")
        XCTAssertEqual(TimestampText.rfc3339(0), "1970-01-01T00:00:00Z")
        XCTAssertEqual(TimestampText.rfc3339(-1), "1969-12-31T23:59:59Z")
        XCTAssertEqual(TimestampText.rfc3339(951_782_400), "2000-02-29T00:00:00Z")
        XCTAssertEqual(TimestampText.rfc3339(.nan), "-")
        XCTAssertEqual(TimestampText.rfc3339(.infinity), "-")
        for t in stride(from: -2e9, through: 4e9, by: 86_399.5 * 37) {
            XCTAssertEqual(SeriesTimestamp.parse(TimestampText.rfc3339(t)), t)
        }
    }
}
