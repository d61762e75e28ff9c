// Writing CSV fields that read back as written: quoted when they hold a comma, a quote or a line break.
import Foundation

/// RFC 4180 output.
public enum CSVWriting {
    /// `value` as one CSV field: unchanged, or in double quotes with inner quotes doubled when
    /// it holds `,`, `"`, `\r` or `\n` (or starts or ends with a space).
    public static func field(_ value: String) -> String {
        let needsQuotes = value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
            || value.first == " " || value.last == " "
        guard needsQuotes else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One CSV line (with its `\n`) of `fields`.
    public static func row(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\n"
    }
}
