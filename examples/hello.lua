-- hello.lua: the smallest lab. One namespace, a veth pair into it, an address.
--   nslua examples/hello.lua
local ns = net.ns("hello")
local outside, inside = net.veth("hello0", "eth0", {peer_ns = ns})
outside:addr("10.200.0.1/24"):up()
inside:addr("10.200.0.2/24"):up()
print("Hello from nslua " .. _VERSION .. "!")
print(outside)
print(inside)
show()
-- Everything above is removed when the script ends.
