# Executable documentation: the ```lua blocks of README.md and docs/*.md run,
# one nslua process per page, each page in a fresh network + mount namespace
# of its own, and what a block prints is compared with the ```output block
# under it. The convention is at the top of tests/doc/doctest.lua.
#   DOC_PAGES="docs/tutorial.md" tests/run.sh docs    checks only those pages
#   DOC_TIMEOUT=seconds                                 per page (default 300)
. "$TESTS_DIR/lib.sh"
cd "$TESTS_DIR/.."
doctest=tests/doc/doctest.lua

if [ -n "${DOC_PAGES:-}" ]; then
  read -ra pages <<<"$DOC_PAGES"
else
  shopt -s nullglob
  pages=(README.md docs/*.md)
fi

for page in "${pages[@]}"; do
  timeout "${DOC_TIMEOUT:-300}" unshare --net --mount --propagation private bash -c '
    mkdir -p /run/netns /run/nslua
    mount -t tmpfs -o mode=0755 nslua-doc /run/netns
    mount -t tmpfs -o mode=0700 nslua-doc /run/nslua
    ip link set lo up
    exec "$NSLUA" "$0" run "$1"' "$doctest" "$page" >"$WORK/out" 2>"$WORK/err" </dev/null
  rc=$?
  if "$NSLUA" "$doctest" check "$page" "$WORK/out" "$WORK/err" "$rc"; then
    pass
  else
    fail "$page does not do what it shows"
  fi
done

# Each page ran in a namespace of its own: nothing of theirs is here.
check_clean "after the pages:"
finish
