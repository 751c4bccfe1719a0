import LuaKit
import NetLab

extension NetModule {
    /// ping, pingall, exec and capture.
    func defineTraffic() {}
}
