# Sourced by the Makefile: puts a Node.js 18+ on PATH. Uses the system node when it is new
# enough, otherwise the one bundled in the venv's nodejs-bin package (npm's install scripts
# need `node` on PATH too: DESIGN 2.1).
_major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/')
if [ -z "$_major" ] || [ "$_major" -lt 18 ]; then
  _bundled=$(.venv/bin/python -c 'import nodejs.node, os; print(os.path.dirname(nodejs.node.path))' 2>/dev/null)
  if [ -n "$_bundled" ]; then
    export PATH="$_bundled:$PATH"
    npm() { .venv/bin/python -m nodejs.npm "$@"; }
  else
    echo "error: no Node.js 18+ on PATH and nodejs-bin is not installed in .venv" >&2
    return 1
  fi
fi
unset _major _bundled
