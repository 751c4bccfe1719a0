#if canImport(Glibc)
import Glibc
#endif

/// strerror text for an errno value ("File exists").
public func errnoDescription(_ code: Int32) -> String {
    #if canImport(Glibc)
    return String(cString: strerror(code))
    #else
    return "error \(code)"
    #endif
}
