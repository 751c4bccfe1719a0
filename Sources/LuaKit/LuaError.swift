/// An error on its way from Swift into Lua, or from Lua back into Swift.
public enum LuaError: Error, CustomStringConvertible, Equatable {
    /// A runtime error raised in Swift: Lua gets `chunk:line: message`.
    case runtime(String)
    /// A bad argument: Lua gets the standard "bad argument #n to 'f' (message)".
    case argument(Int32, String)
    /// An error value that came out of Lua (already positioned): passed on as is.
    case lua(LuaValue, String)

    public var description: String {
        switch self {
        case .runtime(let m): return m
        case .argument(let n, let m): return "bad argument #\(n) (\(m))"
        case .lua(_, let m): return m
        }
    }
}
