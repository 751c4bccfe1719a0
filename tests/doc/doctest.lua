-- Executable documentation: runs the ```lua blocks of a markdown page and
-- compares what they print with the ```output blocks shown under them.
-- Run by nslua itself (tests/test_docs.sh does both steps for each page):
--
--   nslua tests/doc/doctest.lua run PAGE                  runs PAGE's blocks (stdout: output + block markers)
--   nslua tests/doc/doctest.lua check PAGE OUT ERR STATUS  compares that run (its stdout, stderr, exit status) with PAGE
--
-- THE CONVENTION (also in README.md, "Executable documentation")
--
--   ```lua          runs. A page's runnable blocks run in order as ONE script
--                   (one nslua process, in a fresh private network namespace):
--                   a local or a namespace made in block 1 is still there in
--                   block 3. A block must not raise.
--   ```lua no-run   is shown, never run: command lines, API summaries, sketches.
--   ```output       directly under a ```lua block (only blank lines between):
--                   what that block prints on stdout, line by line, exactly --
--                   except for these placeholders, each standing for one value:
--                     {{n}}    a whole number: ids, seq, ifindexes, pids    %d+
--                     {{ms}}   a time in ms: 601, 0.026                     %d+ or %d+.%d+
--                     {{mac}}  a MAC address: 0a:1b:2c:3d:4e:5f             6 x %x%x, ':'
--                     {{ll6}}  an IPv6 link-local address: fe80::1:2ff:fe3:4 fe80:: then 1-4 groups of %x+
--                   Any other {{...}} is an error (there is no match-anything).
--                   A block with no ```output block under it is run, not compared.
--   Any other fence whose info string starts with "lua" or "output" (```lua run,
--   ```Lua, ```output text ...) and an ```output block that is not directly
--   under a ```lua block fail the page. Other fences (```sh, ``` ...) are prose.
--
-- Blocks are numbered 1, 2, ... over a page's ```lua blocks (run and no-run).
-- The script keeps every block line at its markdown line number (the rest of
-- the page is blank lines), so "README.md:14:" in an error is line 14 of
-- README.md. A marker line ("\30doctest N") is printed before block N, and
-- "\30doctest end" after the last, so output is attributed to its block.

local MARK = "\30doctest "

local PLACEHOLDERS = {   -- name -> alternative Lua patterns, each matching the whole value
  n   = {"%d+"},
  ms  = {"%d+", "%d+%.%d+"},
  mac = {"%x%x:%x%x:%x%x:%x%x:%x%x:%x%x"},
  ll6 = {"fe80::%x+", "fe80::%x+:%x+", "fe80::%x+:%x+:%x+", "fe80::%x+:%x+:%x+:%x+"},
}

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, lines)
  local f = assert(io.open(path, "wb"))
  for _, l in ipairs(lines) do f:write(l, "\n") end
  f:close()
end

-- "a\nb\n" -> {"a", "b"}; a last line without "\n" counts too.
local function split_lines(text)
  local t = {}
  if text ~= "" and text:sub(-1) ~= "\n" then text = text .. "\n" end
  for l in text:gmatch("(.-)\n") do t[#t + 1] = (l:gsub("\r$", "")) end
  return t
end

-- An expected line as pieces: literal strings and placeholders (pattern lists).
local function compile(line)
  local pieces, pos = {}, 1
  while true do
    local s, e, name = line:find("{{(.-)}}", pos)
    if not s then break end
    if s > pos then pieces[#pieces + 1] = line:sub(pos, s - 1) end
    if not PLACEHOLDERS[name] then
      local known = {}
      for k in pairs(PLACEHOLDERS) do known[#known + 1] = "{{" .. k .. "}}" end
      table.sort(known)
      return nil, ("unknown placeholder {{%s}} (known: %s)"):format(name, table.concat(known, " "))
    end
    pieces[#pieces + 1] = PLACEHOLDERS[name]
    pos = e + 1
  end
  if pos <= #line then pieces[#pieces + 1] = line:sub(pos) end
  return pieces
end

-- Does `line` (from position pos) match pieces[i...]? Tries every length for a placeholder.
local function matches(pieces, line, i, pos)
  i, pos = i or 1, pos or 1
  local piece = pieces[i]
  if piece == nil then return pos == #line + 1 end
  if type(piece) == "string" then
    return line:sub(pos, pos + #piece - 1) == piece and matches(pieces, line, i + 1, pos + #piece)
  end
  for stop = #line, pos, -1 do
    local value = line:sub(pos, stop)
    for _, pattern in ipairs(piece) do
      if value:match("^" .. pattern .. "$") and matches(pieces, line, i + 1, stop + 1) then return true end
    end
  end
  return false
end

-- Does an actual line fit an expected one, placeholders included?
local function fits(expected, line)
  local pieces = expected and compile(expected)
  return pieces ~= nil and matches(pieces, line)
end

-- A block's actual lines against its expected ones: whether they match, and
-- the actual lines as a diff should show them -- a line that fits an expected
-- line is shown as that line, so that the diff shows real differences only.
local function compare(expect, actual)
  local ok, shown = #actual == #expect, {}
  for k, line in ipairs(actual) do
    ok = ok and fits(expect[k], line)
    shown[k] = line
    if fits(expect[k], line) then
      shown[k] = expect[k]
    else
      for _, e in ipairs(expect) do
        if fits(e, line) then shown[k] = e; break end
      end
    end
  end
  return ok, shown
end

-- The page's fenced blocks, in order: {kind, info, first, last (the fences'
-- lines), code (lines), n (for lua blocks), expect / expect_line (for a
-- run block with an output block)}; its lines; and its problems (strings).
local function parse(page)
  local lines = split_lines(read(page))
  local blocks, problems, open = {}, {}, nil
  local function problem(line, msg) problems[#problems + 1] = ("%s:%d: %s"):format(page, line, msg) end
  for i, line in ipairs(lines) do
    if not open then
      local indent, fence, info = line:match("^( *)(```+)%s*(.-)%s*$")
      if not fence then indent, fence, info = line:match("^( *)(~~~+)%s*(.-)%s*$") end
      if fence then open = {indent = #indent, fence = fence, info = info, first = i, code = {}} end
    else
      local fence = line:match("^ *([`~]+)%s*$")
      local c = open.fence:sub(1, 1)
      if fence and fence == c:rep(#fence) and #fence >= #open.fence then
        open.last = i
        blocks[#blocks + 1] = open
        open = nil
      else
        open.code[#open.code + 1] = line:gsub("^" .. (" ?"):rep(open.indent), "", 1)
      end
    end
  end
  if open then blocks[#blocks + 1] = open; open.last = #lines; problem(open.first, "fence not closed") end

  local n, prev = 0, nil
  for _, b in ipairs(blocks) do
    local word = b.info:match("^%S*"):lower()
    if b.info == "lua" then b.kind = "run"
    elseif b.info == "lua no-run" then b.kind = "no-run"
    elseif b.info == "output" then b.kind = "output"
    elseif word:match("^lua") or word:match("^output") then b.kind = "bad"
    else b.kind = "other" end
    if b.kind == "run" or b.kind == "no-run" or (b.kind == "bad" and word:match("^lua")) then
      n = n + 1; b.n = n
    end
    if b.kind == "bad" then
      problem(b.first, ("%scannot classify ```%s (use ```lua, ```lua no-run or ```output)")
        :format(b.n and ("block %d: "):format(b.n) or "", b.info))
    end
    if b.kind == "output" then
      local between = prev and table.concat(lines, "", prev.last + 1, b.first - 1) or ""
      if not prev or prev.kind ~= "run" or prev.expect or between:match("%S") then
        problem(b.first, "```output block not directly under a runnable ```lua block")
      else
        prev.expect, prev.expect_line = b.code, b.first
        for k, l in ipairs(b.code) do
          local ok, err = compile(l)
          if not ok then problem(b.first + k, err) end
        end
      end
    end
    prev = b
  end
  return blocks, lines, problems
end

-- Step 1, in the page's own namespace: the runnable blocks as one chunk,
-- each line at its markdown line number, run with the global `net`.
local function run(page)
  local blocks, lines = parse(page)
  local src = {}
  for i = 1, #lines + 1 do src[i] = "" end
  src[1] = "local __doctest_mark = ...; "
  for _, b in ipairs(blocks) do
    if b.kind == "run" then
      src[b.first] = src[b.first] .. ("__doctest_mark(%d)"):format(b.n)
      for k, l in ipairs(b.code) do src[b.first + k] = l end
    end
  end
  src[#lines + 1] = "__doctest_mark('end')"
  local chunk, err = load(table.concat(src, "\n"), "@" .. page, "t")
  if not chunk then io.stderr:write("nslua: ", err, "\n"); os.exit(1) end
  chunk(function(n) io.stdout:write(MARK, n, "\n"); io.stdout:flush() end)
end

-- Step 2: compare the run's output with the page.
local function check(page, out_path, err_path, status)
  local blocks, _, problems = parse(page)
  local failed = #problems > 0
  for _, p in ipairs(problems) do print("FAIL " .. p) end

  -- Split stdout at the markers: segment[n] is what block n printed.
  local out, segment, reached, pos = read(out_path), {}, nil, 1
  while true do
    local s, e, name = out:find(MARK .. "(%w+)\n", pos)
    if reached then segment[reached] = split_lines(out:sub(pos, (s or #out + 1) - 1)) end
    if not s then break end
    reached, pos = tonumber(name) or name, e + 1
  end

  local function where(b) return ("%s block %d (line %d)"):format(page, b.n, b.first) end
  local function block_at(line)
    for _, b in ipairs(blocks) do
      if b.kind == "run" and line > b.first and line < b.last then return b end
    end
  end

  -- Did the run get through every block?
  local err = read(err_path)
  if reached ~= "end" or status ~= "0" then
    failed = true
    local b
    for _, x in ipairs(blocks) do if x.kind == "run" and x.n == reached then b = x end end
    local msg = err:match("[^\n]*") or ""
    local line = tonumber(err:match(page:gsub("%p", "%%%0") .. ":(%d+):") or "")
    local at = line and block_at(line)
    local detail = at and (" (%s:%d is block %d, its line %d)"):format(page, line, at.n, line - at.first) or ""
    if status == "124" then
      print(("FAIL %s: timed out"):format(b and where(b) or page))
    elseif reached == "end" then
      print(("FAIL %s: nslua exited with status %s after the last block: %s"):format(page, status, msg))
    elseif b then
      print(("FAIL %s raised (exit status %s): %s%s"):format(where(b), status, msg, detail))
    else
      print(("FAIL %s did not start (exit status %s): %s%s"):format(page, status, msg, detail))
    end
    if err ~= "" then io.write("    stderr:\n", (err:gsub("[^\n]+", "    | %0"))) end
    local missed = {}
    for _, x in ipairs(blocks) do if x.kind == "run" and not segment[x.n] then missed[#missed + 1] = x.n end end
    if #missed > 0 then print(("    not run: block %s"):format(table.concat(missed, ", "))) end
  elseif err ~= "" then
    io.write(page, ": stderr:\n", (err:gsub("[^\n]+", "    | %0")))
  end

  -- Each block's output against the ```output block under it.
  local ran, skipped, compared = 0, 0, 0
  for _, b in ipairs(blocks) do
    if b.kind == "no-run" then skipped = skipped + 1 end
    if b.kind == "run" and segment[b.n] then
      ran = ran + 1
      if b.expect then
        compared = compared + 1
        local ok, shown = compare(b.expect, segment[b.n])
        if not ok then
          failed = true
          print(("FAIL %s: output differs from the ```output block at line %d"):format(where(b), b.expect_line))
          local e_path, a_path = os.tmpname(), os.tmpname()
          write(e_path, b.expect); write(a_path, shown)
          local diff = io.popen(("diff -u --label '%s block %d, expected' --label 'actual' %s %s")
            :format(page, b.n, e_path, a_path))
          io.write((diff:read("a"):gsub("[^\n]+", "    %0")))
          diff:close(); os.remove(e_path); os.remove(a_path)
        end
      end
    end
  end

  print(("%s: %d %s run, %d skipped (no-run), %d %s compared -- %s"):format(page,
    ran, ran == 1 and "block" or "blocks", skipped, compared, compared == 1 and "output" or "outputs",
    failed and "FAILED" or "ok"))
  return not failed
end

local mode, page = arg[1], arg[2]
if mode == "run" and page then
  run(page)
elseif mode == "check" and arg[5] then
  if not check(page, arg[3], arg[4], arg[5]) then os.exit(1) end
else
  io.stderr:write("usage: nslua doctest.lua run PAGE | check PAGE OUT ERR STATUS\n")
  os.exit(2)
end
