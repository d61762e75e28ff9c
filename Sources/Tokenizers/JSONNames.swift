// The tokenizer loaders' name for the shared JSON reader's values.
import JSONText

typealias JSONValue = JSONNode
