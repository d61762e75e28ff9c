// `lora serve` over real HTTP on a free loopback port: answers against `lora predict`, every bad request, a soak, SIGTERM.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import XCTest

struct ServeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A running `lora serve` child and a small blocking HTTP client for it.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    let base: String
    private let errPipe = Pipe()
    private let outPipe = Pipe()
    nonisolated(unsafe) var stderrText = ""

    init(_ arguments: [String]) throws {
        process.executableURL = try LoraProcess.binary()
        process.arguments = ["serve", "--port", "0"] + arguments
        process.standardOutput = outPipe
        process.standardError = errPipe
        try process.run()
        // The first line of standard output names the bound port.
        var line = Data()
        let out = outPipe.fileHandleForReading
        while !line.contains(0x0A) {
            let chunk = out.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "http://") else {
            process.waitUntilExit()
            throw ServeFailure("lora serve did not start (status \(process.terminationStatus)): \(text)")
        }
        base = String(text[range.lowerBound...].prefix { !$0.isWhitespace })
        let errHandle = errPipe.fileHandleForReading
        DispatchQueue.global().async { [self] in stderrText = String(decoding: errHandle.readDataToEndOfFile(), as: UTF8.self) }
    }

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: Data
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func request(_ method: String, _ path: String, body: Data? = nil) throws -> Answer {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 60
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        nonisolated(unsafe) var answer: Answer?
        nonisolated(unsafe) var failure: (any Error)?
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let http = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (k, v) in http.allHeaderFields { headers[String(describing: k).lowercased()] = String(describing: v) }
                answer = Answer(status: http.statusCode, headers: headers, body: data ?? Data())
            } else { failure = error }
            done.signal()
        }.resume()
        done.wait()
        if let answer { return answer }
        throw failure ?? URLError(.badServerResponse)
    }

    func classify(_ json: Any) throws -> Answer {
        try request("POST", "/v1/classify", body: try JSONSerialization.data(withJSONObject: json))
    }

    var residentKB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// SIGTERM, then the exit status.
    func terminate() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate() } }
}

final class ServeTests: XCTestCase, @unchecked Sendable {
    var scratch: URL!
    var model: URL!
    var words: [String] = []

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lora-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        (model, words) = try TinyModels.withVocabulary("tiny-bert", in: scratch)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func text(_ i: Int, length: Int = 5) -> String { (0..<length).map { words[(i * 7 + $0 * 3) % words.count] }.joined(separator: " ") }

    /// `lora train` on made-up data: `labels` classes ("c0"…), or regression with 0.
    func trainAdapter(_ name: String, labels: Int) throws -> String {
        var rows = ["text,label"]
        for i in 0..<24 { rows.append("\(text(i)),\(labels == 0 ? String(format: "%.1f", Double(i % 5)) : "c\(i % labels)")") }
        let data = scratch.appendingPathComponent("\(name).csv")
        try (rows.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
        let out = scratch.appendingPathComponent(name).path
        let r = try LoraProcess.run(["train", "--model", model.path, "--train-file", data.path, "--dev-file", data.path, "--epochs", "1",
                                     "--batch-size", "8", "--max-length", "16", "--lr", "5e-3", "--threads", "1", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        return out + "/adapter"
    }

    /// `lora predict --adapter` logits of each input (a tab separates a pair).
    func predicted(_ adapter: String, _ inputs: [String], maxLength: Int = 16) throws -> [[Double]] {
        let stdin = scratch.appendingPathComponent("stdin-\(UUID().uuidString).txt")
        try (inputs.joined(separator: "\n") + "\n").write(to: stdin, atomically: true, encoding: .utf8)
        return try runPredict(adapter, stdin, maxLength)
    }

    func runPredict(_ adapter: String, _ stdin: URL, _ maxLength: Int) throws -> [[Double]] {
        let process = Process()
        process.executableURL = try LoraProcess.binary()
        process.arguments = ["predict", "--model", model.path, "--adapter", adapter, "--max-length", String(maxLength)]
        process.standardInput = try FileHandle(forReadingFrom: stdin)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
            let json = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return (json["logits"] as! [NSNumber]).map(\.doubleValue)
        }
    }

    func logits(_ result: Any) -> [Double] { ((result as! [String: Any])["logits"] as! [NSNumber]).map(\.doubleValue) }

    func testServerAnswersAsPredictDoesAndRefusesBadRequests() throws {
        let two = try trainAdapter("two", labels: 2), three = try trainAdapter("three", labels: 3), score = try trainAdapter("score", labels: 0)
        let server = try ServerProcess(["--model", model.path, "--adapter", "two=\(two)", "--adapter", "three=\(three)",
                                        "--max-length", "16", "--max-body-bytes", "4096", "--max-queued-inputs", "64",
                                        "--batch-window-ms", "20"])
        XCTAssertEqual(try server.request("GET", "/health").json?["status"] as? String, "ok")
        let openAPI = try server.request("GET", "/openapi.json").json
        XCTAssertNotNil((openAPI?["paths"] as? [String: Any])?["/v1/classify"], "the OpenAPI document describes /v1/classify")

        // Concurrent requests mixing adapters: each answer equals lora predict's.
        let inputs = (0..<48).map { text($0, length: 3 + $0 % 6) }
        let expected = ["two": try predicted(two, inputs), "three": try predicted(three, inputs)]
        nonisolated(unsafe) var failures: [String] = []
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 24) { r in
            let name = r % 2 == 0 ? "two" : "three", picked = [2 * r, 2 * r + 1]
            do {
                let answer = try server.classify(["adapter": name, "inputs": picked.map { inputs[$0] }])
                let results = answer.json?["results"] as? [Any] ?? []
                guard answer.status == 200, results.count == 2 else { throw ServeFailure("\(answer.status) \(answer.text)") }
                for (result, i) in zip(results, picked) {
                    let got = logits(result), want = expected[name]![i]
                    let diff = zip(got, want).map { abs($0 - $1) }.max() ?? 1
                    if got.count != want.count || diff > 1e-5 { throw ServeFailure("input \(i) under \(name): \(got) vs \(want)") }
                }
            } catch { lock.withLock { failures.append("request \(r): \(error)") } }
        }
        XCTAssertEqual(failures, [])
        let metrics = try server.request("GET", "/metrics")
        XCTAssertEqual(metrics.status, 200)
        func metric(_ name: String) -> Double {
            metrics.text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) } ?? -1
        }
        XCTAssertGreaterThan(metric("lora_batch_adapters_sum"), metric("lora_batch_adapters_count"), "some batch mixed the two adapters")
        XCTAssertTrue(metrics.text.contains("lora_queue_inputs") && metrics.text.contains("http_server_request_duration_bucket"), metrics.text)

        // Bad requests: each its status and a message.
        let bad: [(Data, Int, String)] = [
            (Data(#"{"adapter": "two", "inputs": ["#.utf8), 400, "not valid JSON"),
            (Data(#"{"adapter": "two", "inputs": [["a", "b", "c"]]}"#.utf8), 400, "exactly 2"),
            (Data(#"{"adapter": "nope", "inputs": ["a"]}"#.utf8), 404, "no adapter named"),
            (Data(#"{"adapter": "two", "inputs": []}"#.utf8), 400, "is empty"),
            (Data(("{\"adapter\": \"two\", \"inputs\": [\"" + String(repeating: "w5 ", count: 2000) + "\"]}").utf8), 413, "larger than the limit"),
            (try JSONSerialization.data(withJSONObject: ["adapter": "two", "inputs": (0..<65).map { text($0) }]), 503, "queue is full"),
        ]
        for (body, status, message) in bad {
            let answer = try server.request("POST", "/v1/classify", body: body)
            XCTAssertEqual(answer.status, status, answer.text)
            XCTAssertTrue((answer.json?["error"] as? String ?? "").contains(message), answer.text)
            if status == 503 { XCTAssertEqual(answer.headers["retry-after"], "1") }
        }
        XCTAssertEqual(try server.request("GET", "/v2/nothing").status, 404)
        let wrongMethod = try server.request("PUT", "/health")
        XCTAssertEqual(wrongMethod.status, 405, wrongMethod.text)
        XCTAssertEqual(wrongMethod.headers["allow"], "GET")

        // Longer than --max-length: truncated as lora predict truncates, and said.
        let long = text(3, length: 40)
        let truncated = try server.classify(["adapter": "two", "inputs": [long]])
        let result = (truncated.json?["results"] as? [[String: Any]])?.first ?? [:]
        XCTAssertEqual(result["truncated"] as? Bool, true, truncated.text)
        XCTAssertEqual(result["tokens"] as? Int, 16)
        XCTAssertLessThanOrEqual(zip(logits(result), try predicted(two, [long])[0]).map { abs($0 - $1) }.max() ?? 1, 1e-5)

        // Adapters at run time: missing and corrupt ones are 422 and serving goes on.
        func load(_ name: String, _ path: String) throws -> ServerProcess.Answer {
            try server.request("POST", "/v1/adapters", body: try JSONSerialization.data(withJSONObject: ["name": name, "path": path]))
        }
        XCTAssertEqual(try load("gone", scratch.appendingPathComponent("nowhere").path).status, 422)
        let corrupt = scratch.appendingPathComponent("corrupt")
        try FileManager.default.copyItem(atPath: two, toPath: corrupt.path)
        try Data("not safetensors".utf8).write(to: corrupt.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertEqual(try load("corrupt", corrupt.path).status, 422)
        XCTAssertEqual(try load("two", three).status, 409)
        let loaded = try load("score", score)
        XCTAssertEqual(loaded.status, 201, loaded.text)
        XCTAssertEqual(loaded.json?["task"] as? String, "regression")
        let scored = try server.classify(["adapter": "score", "inputs": [inputs[0]]])
        let scoreResult = (scored.json?["results"] as? [[String: Any]])?.first ?? [:]
        XCTAssertEqual((scoreResult["score"] as? NSNumber)?.doubleValue ?? .nan, try predicted(score, [inputs[0]])[0][0], accuracy: 1e-5)
        let listed = (try server.request("GET", "/v1/adapters").json?["adapters"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        XCTAssertEqual(listed, ["score", "three", "two"])
        XCTAssertEqual(try server.request("DELETE", "/v1/adapters/score").status, 200)
        XCTAssertEqual(try server.request("DELETE", "/v1/adapters/score").status, 404)
        XCTAssertEqual(try server.classify(["adapter": "score", "inputs": ["w5"]]).status, 404)

        // A bounded soak: no error on good requests, and memory that levels off.
        func soak(_ count: Int) -> Int {
            nonisolated(unsafe) var errors = 0
            let lock = NSLock()
            DispatchQueue.concurrentPerform(iterations: 8) { c in
                for i in 0..<(count / 8) {
                    let ok = (try? server.classify(["adapter": (c + i) % 2 == 0 ? "two" : "three", "inputs": [inputs[(c * 31 + i) % inputs.count]]]).status) == 200
                    if !ok { lock.withLock { errors += 1 } }
                }
            }
            return errors
        }
        XCTAssertEqual(soak(400), 0)
        let settled = server.residentKB
        XCTAssertEqual(soak(800), 0)
        let after = server.residentKB
        XCTAssertLessThan(after - settled, 8 * 1024, "resident memory grew from \(settled) to \(after) kB over 800 more requests")
        XCTAssertEqual(server.terminate(), 0, server.stderrText)
    }

    func testInt8ServerAnswersCloseToFP32() throws {
        let two = try trainAdapter("two", labels: 2)
        let inputs = (0..<6).map { text($0, length: 4 + $0) }
        let fp32 = try predicted(two, inputs)
        let server = try ServerProcess(["--model", model.path, "--adapter", "two=\(two)", "--int8", "--max-length", "16"])
        let answer = try server.classify(["adapter": "two", "inputs": inputs])
        let results = answer.json?["results"] as? [Any] ?? []
        XCTAssertEqual(results.count, inputs.count, answer.text)
        let range = fp32.joined().map(abs).max() ?? 1
        for (result, want) in zip(results, fp32) {
            let worst = zip(logits(result), want).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThan(worst, 0.05 * range, "int8 logits \(logits(result)) against fp32 \(want)")
        }
        XCTAssertEqual(server.terminate(), 0, server.stderrText)
    }

    func testSIGTERMFinishesTheRequestInFlightAndExitsZero() throws {
        let two = try trainAdapter("two", labels: 2)
        // A long batch window keeps the request queued while the signal arrives.
        let server = try ServerProcess(["--model", model.path, "--adapter", "two=\(two)", "--batch-window-ms", "1500"])
        nonisolated(unsafe) var answer: ServerProcess.Answer?
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            answer = try? server.classify(["adapter": "two", "inputs": [self.text(1)]])
            done.signal()
        }
        var queued = false
        for _ in 0..<200 where !queued {
            queued = ((try? server.request("GET", "/health").json?["queue_depth"] as? Int) ?? 0) > 0
            if !queued { Thread.sleep(forTimeInterval: 0.01) }
        }
        XCTAssertTrue(queued, "the request reached the queue")
        kill(server.process.processIdentifier, SIGTERM)
        done.wait()
        XCTAssertEqual(answer?.status, 200, answer?.text ?? "no answer")
        XCTAssertEqual(server.terminate(), 0, server.stderrText)
        XCTAssertThrowsError(try server.request("GET", "/health"), "the port is closed after exit")
    }
}
