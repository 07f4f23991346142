# Source this: puts every installed CPython 3.10-3.13 on PATH as python3.X, so tox finds
# them even where pyenv's shims only run the global version. Harmless where there is no pyenv.
_dm_bin="${TMPDIR:-/tmp}/datamonitor-pythons"
mkdir -p "$_dm_bin"
for _v in 3.10 3.11 3.12 3.13; do
  for _cand in "$HOME"/.pyenv/versions/"$_v".*/bin/python"$_v" /usr/bin/python"$_v" /usr/local/bin/python"$_v"; do
    if [ -x "$_cand" ] && "$_cand" -c 'import sys' 2>/dev/null; then
      ln -sf "$_cand" "$_dm_bin/python$_v"
      break
    fi
  done
done
case ":$PATH:" in *":$_dm_bin:"*) ;; *) export PATH="$_dm_bin:$PATH" ;; esac
unset _dm_bin _v _cand
