// File-system errors in words that name the file and the cause (not NSCocoaError codes).
import Foundation

/// Describes a Foundation file error as "PATH: CAUSE", e.g. "runs/x/log.jsonl: permission
/// denied", from the error's file path and its underlying POSIX error; `nil` for an error
/// that is not a file-system error.
public enum FileErrors {
    public static func describe(_ error: any Error) -> String? {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return nil }
        let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        var cause: String?
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            cause = String(cString: strerror(Int32(underlying.code)))
        } else if ns.domain == NSPOSIXErrorDomain {
            cause = String(cString: strerror(Int32(ns.code)))
        }
        if cause == nil {
            switch CocoaError.Code(rawValue: ns.code) {
            case .fileNoSuchFile, .fileReadNoSuchFile: cause = "no such file or directory"
            case .fileReadNoPermission, .fileWriteNoPermission: cause = "permission denied"
            case .fileWriteOutOfSpace: cause = "no space left on device"
            case .fileWriteVolumeReadOnly: cause = "read-only file system"
            case .fileWriteFileExists: cause = "file exists"
            case .fileReadCorruptFile: cause = "unreadable or corrupt"
            case .fileReadInapplicableStringEncoding: cause = "not valid UTF-8 text"
            default: break
            }
        }
        guard path != nil || cause != nil else { return nil }
        return (path ?? "a file") + ": " + (cause ?? ns.localizedDescription)
    }
}
