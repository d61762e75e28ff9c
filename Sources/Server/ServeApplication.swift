// The HTTP front of `lora serve` on Hummingbird 2: routes, body limits, JSON errors, metrics.
import Foundation
import Hummingbird
import HTTPTypes
import Logging
import Metrics
import NIOCore
import Prometheus
import Serving
import Encoders

/// Settings of the HTTP server.
public struct ServeSettings: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (printed once listening).
    public var port = 8080
    /// Bodies over this many bytes are refused with 413.
    public var maxBodyBytes = 1 << 20
    public init(host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 1 << 20) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
    }
}

/// Builds and runs the server.
public enum ServeApplication {
    /// Bootstraps swift-metrics with the Prometheus registry `/metrics` emits (once per
    /// process). Call it before creating anything that records metrics (`BatchScheduler`):
    /// metrics made earlier go nowhere.
    public static func bootstrapMetrics() { _ = metrics }

    static let metrics: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                                                   .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(200),
                                                   .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10)]
        factory.valueHistogramBuckets = [
            "lora_batch_inputs": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
            "lora_batch_tokens": [16, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384],
            "lora_batch_adapters": [1, 2, 3, 4, 6, 8, 12, 16, 32],
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Serves `service` until SIGTERM or SIGINT: then stops accepting connections, finishes
    /// the requests in flight, drains the batch queue and returns. `listening` receives the
    /// bound port.
    public static func run(_ service: ClassifyService, settings: ServeSettings, listening: @escaping @Sendable (Int) -> Void) async throws {
        let registry = metrics
        let router = Router(context: BasicRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware())
        router.middlewares.add(MetricsMiddleware())
        let limit = settings.maxBodyBytes
        let openAPI = Data(PackageResources.openapi_json)

        router.post("/v1/classify") { request, _ -> Response in
            let body = try await collect(request, limit: limit)
            return json(.ok, try await service.classify(body: body))
        }
        router.get("/v1/adapters") { _, _ in json(.ok, service.adaptersJSON()) }
        router.post("/v1/adapters") { request, _ -> Response in
            let load = try LoadAdapterRequest.parse(try await collect(request, limit: limit))
            let entry = try await Task.detached { try service.registry.load(name: load.name, path: load.path) }.value
            return json(.created, Data(ClassifyService.describe(entry).utf8))
        }
        router.delete("/v1/adapters/{name}") { _, context -> Response in
            let name = try context.parameters.require("name")
            guard service.registry.unload(name) else { throw ServingError.unknownAdapter(name, known: service.registry.all.map(\.name)) }
            return json(.ok, Data("{\"unloaded\":\(JSONValue.quoted(name))}".utf8))
        }
        router.get("/health") { _, _ in json(.ok, service.healthJSON()) }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("/openapi.json") { _, _ in json(.ok, openAPI) }

        var logger = Logger(label: "lora-serve")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "lora-serve"),
            onServerRunning: { channel in listening(channel.localAddress?.port ?? settings.port) },
            logger: logger)
        service.scheduler.start()
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            service.scheduler.shutdown()
            throw error
        }
        service.scheduler.shutdown()
    }

    /// The whole body, or 413 past `limit` bytes.
    static func collect(_ request: Request, limit: Int) async throws -> Data {
        do {
            var buffer = try await request.body.collect(upTo: limit)
            return Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
        } catch is NIOTooManyBytesError {
            throw ServingError(status: 413, "the body is larger than the limit of \(limit) bytes (--max-body-bytes)")
        }
    }

    static func json(_ status: HTTPResponse.Status, _ data: Data, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Every failure answers `{"error": "message"}` with its status: `ServingError`s with theirs
/// (503 with Retry-After), Hummingbird's (404 for an unknown route, 405, 413) with theirs,
/// anything else 500.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ServingError {
            var headers = HTTPFields()
            if let retry = error.retryAfter { headers[.retryAfter] = String(retry) }
            return ServeApplication.json(HTTPResponse.Status(code: error.status), body(error.message), headers: headers)
        } catch let error as any HTTPResponseError {
            let path = request.uri.path
            if error.status == .notFound, let allowed = Self.methods(of: path) {
                var headers = HTTPFields()
                headers[.allow] = allowed.joined(separator: ", ")
                return ServeApplication.json(.methodNotAllowed, body("\(request.method) is not allowed on \(path); allowed: \(allowed.joined(separator: ", "))"),
                                             headers: headers)
            }
            let message = error.status == .notFound ? "no route \(request.method) \(path); see /openapi.json" : "\(error.status)"
            return ServeApplication.json(error.status, body(message))
        } catch {
            return ServeApplication.json(.internalServerError, body("internal error: \(error)"))
        }
    }

    /// The methods the API has on `path` (nil for a path it does not have), for 405 answers.
    static func methods(of path: String) -> [String]? {
        switch path {
        case "/v1/classify": ["POST"]
        case "/v1/adapters": ["GET", "POST"]
        case "/health", "/metrics", "/openapi.json": ["GET"]
        default: path.hasPrefix("/v1/adapters/") && path.count > "/v1/adapters/".count && !path.dropFirst(13).contains("/") ? ["DELETE"] : nil
        }
    }

    func body(_ message: String) -> Data { Data("{\"error\":\(JSONValue.quoted(message))}".utf8) }
}
