// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "nslua",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "nslua", targets: ["nslua"]),
    ],
    targets: [
        // System libraries (Debian: liblua5.4-dev, libedit-dev, libpcap-dev, libgraphviz-dev).
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "CEditLine", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CGraphviz", pkgConfig: "libgvc", providers: [.apt(["libgraphviz-dev"])]),

        // Lua side: C trampolines and macro wrappers, then the Swift face of a Lua state.
        .target(name: "CLuaBridge", dependencies: ["CLua"]),
        .target(name: "LuaKit", dependencies: ["CLua", "CLuaBridge"]),

        // Network side: rtnetlink wire format, then the lab model (no Lua in either).
        .target(name: "CNetSys"),
        .target(name: "Netlink"),
        .target(name: "NetLab", dependencies: ["Netlink", "CNetSys", "CPcap"]),

        // DOT text to SVG/PNG through libgvc, in-process (no Lua, no network).
        .target(name: "GraphRender", dependencies: ["CGraphviz"]),

        // The `net` module: NetLab objects bound to Lua.
        .target(name: "NSLua", dependencies: ["LuaKit", "NetLab"]),

        // Language mode 5: the REPL drives libedit and stdio through C globals.
        .executableTarget(name: "nslua", dependencies: ["NSLua", "LuaKit", "CEditLine", "NetLab", "GraphRender"],
                          swiftSettings: [.swiftLanguageMode(.v5)]),

        .testTarget(name: "LuaKitTests", dependencies: ["LuaKit"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink"]),
        .testTarget(name: "NSLuaTests", dependencies: ["NSLua", "NetLab", "LuaKit"]),
        .testTarget(name: "NetLabTests", dependencies: ["NetLab", "Netlink"]),
        .testTarget(name: "GraphRenderTests", dependencies: ["GraphRender"]),
    ]
)
