// Floats as the Rust library reads them from tokenizer.json (serde_json's default parser).

/// Powers of ten as f64 literals, `1e0` … `1e308` (serde_json's `POW10`).
private let powersOfTen: [Double] = (0...308).map { Double("1e\($0)") ?? .infinity }

/// The value serde_json's default float parser (without the `float_roundtrip` feature, as the
/// `tokenizers` library is built) gives for the JSON number that `value` was read from.
///
/// That parser is not correctly rounded: it collects the decimal digits into a `u64`, converts
/// it to `f64` and multiplies or divides once by a power of ten, so about one Unigram score in
/// eight comes out one ulp away from the correctly rounded value. A Viterbi near-tie can depend
/// on that ulp, so the Unigram loader applies this to every score.
///
/// `value` is the correctly rounded reading of the file's text; its shortest round-trip digits
/// (Swift's `description`, as Rust's `ryu` and Python's `repr` write them) are the file's digits
/// for every `tokenizer.json` those libraries wrote. (A hand-written number with superfluous
/// digits, such as `0.50000000000000000001`, may be read differently by serde_json.)
func serdeJSONDouble(_ value: Double) -> Double {
    guard value.isFinite else { return value }
    var significand: UInt64 = 0
    var exponent = 0
    var negative = false
    var overflowed = false
    var inFraction = false
    var exponentText = ""
    var inExponent = false
    for c in value.description.utf8 {
        if inExponent {
            exponentText.append(Character(Unicode.Scalar(c)))
            continue
        }
        switch c {
        case UInt8(ascii: "-"): negative = true
        case UInt8(ascii: "."): inFraction = true
        case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            let digit = UInt64(c - UInt8(ascii: "0"))
            if overflowed || significand > (UInt64.max - digit) / 10 {
                // serde_json drops the digits that do not fit; integer digits still count.
                overflowed = true
                if !inFraction { exponent += 1 }
            } else {
                significand = significand * 10 + digit
                if inFraction { exponent -= 1 }
            }
        default: break
        }
    }
    exponent += Int(exponentText) ?? 0
    var f = Double(significand)
    while true {
        let magnitude = exponent < 0 ? -exponent : exponent
        if magnitude < powersOfTen.count {
            f = exponent >= 0 ? f * powersOfTen[magnitude] : f / powersOfTen[magnitude]
            break
        }
        if f == 0 { break }
        f /= 1e308
        exponent += 308
    }
    return negative ? -f : f
}
