-- router.lua: two subnets joined by a router namespace.
--
--   h1 (10.0.1.2/24) --- r1 (10.0.1.1 | 10.0.2.1) --- h2 (10.0.2.2/24)
--
-- Each host's default route points at the router; the router forwards.
-- A ping with TTL 1 dies at the router, which says so with an ICMP
-- "time exceeded" (the trick traceroute is built on).
--
--   sudo nslua examples/router.lua       (or: nslua --sandbox ...)

local h1, r1, h2 = net.ns("h1"), net.ns("r1"), net.ns("h2")

-- ip link add eth0 netns h1 type veth peer name left netns r1 (and the same on the right)
local h1eth, left = net.veth("eth0", "left", {ns = h1, peer_ns = r1})
local h2eth, right = net.veth("eth0", "right", {ns = h2, peer_ns = r1})

h1eth:addr("10.0.1.2/24"):up()
left:addr("10.0.1.1/24"):up()
right:addr("10.0.2.1/24"):up()
h2eth:addr("10.0.2.2/24"):up()

-- ip -n h1 route add default via 10.0.1.1 (and h2 via 10.0.2.1)
h1:route("default", {via = "10.0.1.1"})
h2:route("default", {via = "10.0.2.1"})

print("Before forwarding is on:")
local before = h1:ping("10.0.2.2", {count = 1})
print(before)

-- ip netns exec r1 sysctl -w net.ipv4.ip_forward=1
r1:forward(true)
print("\nAfter `r1:forward(true)` (net.ipv4.ip_forward = " .. r1:sysctl("net.ipv4.ip_forward") .. "):")

local cap = r1:capture("right", {filter = "icmp"})
local r = h1:ping("10.0.2.2", {count = 3})
print(r)
print("\nWhat r1 forwarded out of `right`:")
for _, p in ipairs(cap:stop()) do print("  " .. p.summary) end

print("\nTTL 1 from h1 dies at the router:")
local ttl1 = h1:ping("10.0.2.2", {count = 1, ttl = 1})
print(ttl1)
print("  errors: " .. table.concat(ttl1.errors, ", "))

print("\nh1's routes:")
for _, route in ipairs(h1:routes()) do
  if route.family == "inet" then print("  " .. route.dst .. (route.via and (" via " .. route.via) or "") .. " dev " .. route.dev) end
end

show()

local ok = before.received == 0 and r.received == 3
  and ttl1.errors[1] == "From 10.0.1.1 icmp_seq=1 Time to live exceeded"
print(ok and "\nOK: r1 routes between the two subnets." or "\nFAILED: routing did not behave as expected.")
if not ok then os.exit(1) end
