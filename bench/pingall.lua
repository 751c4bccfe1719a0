-- All-pairs ping with nslua: the star of star.lua (without the ring ping),
-- then net.pingall over the hosts. Prints
-- "pairs P received R dropped D seconds S rounds K retried T" (S: the
-- pingall alone; K: the rounds it planned to fit the neighbour table; T:
-- pairs tried again after the kernel dropped packets).
--   nslua bench/pingall.lua N
local n = assert(tonumber(arg[1]), "usage: pingall.lua N")
local hosts = require("starlab")(n)

local t0 = net.now()
local m = net.pingall(hosts, {quiet = true})
print(string.format("pairs %d received %d dropped %d seconds %.3f rounds %d retried %d",
  m.sent, m.received, m.dropped, net.now() - t0, m.rounds, m.retried))
