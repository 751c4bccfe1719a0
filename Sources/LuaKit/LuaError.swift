/// An error on its way from Swift into Lua, or from Lua back into Swift.
///
/// Every error LuaKit raises reaches Lua as an error object: a table that
/// prints as its message (`tostring`, `..`, `err:find(...)` work as on a
/// string) and carries `kind` and any other fields, so scripts can tell errors
/// apart without matching text.
public enum LuaError: Error, CustomStringConvertible, Equatable {
    /// Lua gets `chunk:line: message`, of kind "error".
    case runtime(String)
    /// Lua gets `chunk:line: message`, of `kind`, with extra `fields`.
    case raised(String, kind: String, fields: [String: LuaValue])
    /// A bad argument at stack index `n`: Lua gets lauxlib's text,
    /// "bad argument #n to 'f' (message)", of kind "argument".
    case argument(Int32, String)
    /// An error value that came out of Lua (already positioned): passed on as is.
    case lua(LuaValue, String)

    public var description: String {
        switch self {
        case .runtime(let m), .raised(let m, _, _): return m
        case .argument(let n, let m): return "bad argument #\(n) (\(m))"
        case .lua(_, let m): return m
        }
    }
}

/// Why a chunk did not run.
public enum LuaStatus: Error, Equatable, Sendable {
    case syntax(String)
    /// A runtime error: its message (with traceback, when Lua made one) and,
    /// for an error object, its `kind`.
    case runtime(String, kind: String?)
    case other(String)

    public var message: String {
        switch self {
        case .syntax(let m), .runtime(let m, _), .other(let m): return m
        }
    }

    public var kind: String? {
        if case .runtime(_, let kind) = self { return kind }
        return nil
    }
}
