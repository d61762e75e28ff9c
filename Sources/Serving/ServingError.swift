// What goes wrong in serving, with the HTTP status each failure answers with.
import Foundation
import Encoders

/// A serving failure: its HTTP status and a message for the client.
public struct ServingError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The HTTP status code (400, 404, 409, 413, 422, 500, 503).
    public let status: Int
    public let message: String
    /// Seconds the client should wait before retrying (503 only).
    public let retryAfter: Int?

    public init(status: Int, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { message }

    /// A malformed or invalid request body (400).
    public static func badRequest(_ message: String) -> ServingError { ServingError(status: 400, message) }
    /// An adapter name that is not loaded (404).
    public static func unknownAdapter(_ name: String, known: [String]) -> ServingError {
        ServingError(status: 404, "no adapter named \(quoted(name)) is loaded" + (known.isEmpty ? " (none are)" : "; loaded: \(known.joined(separator: ", "))"))
    }
    /// An adapter directory that cannot be served (422).
    public static func unloadable(_ message: String) -> ServingError { ServingError(status: 422, message) }
    /// The request queue is full (503, with Retry-After).
    public static func queueFull(queued: Int, limit: Int) -> ServingError {
        ServingError(status: 503, "the request queue is full (\(queued) inputs waiting, limit \(limit)); retry shortly", retryAfter: 1)
    }
    /// The server is shutting down (503).
    public static let shuttingDown = ServingError(status: 503, "the server is shutting down", retryAfter: 1)

    /// A name from a request, quoted for a message (at most 80 characters of it).
    static func quoted(_ s: String) -> String { JSONValue.quoted(String(s.prefix(80))) }
}
