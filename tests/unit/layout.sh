#!/usr/bin/env bash
# The layout rules of core/README.md, checked on the includes: each
# folder includes only the folders below it, and the local and
# Kubernetes backends never include each other.  Prints every violation.
set -u
core=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/core
allowed() { # folder -> the folders it may include
	case $1 in
	base) echo "base" ;;
	plugin|model) echo "base $1" ;;
	proxy) echo "base plugin proxy" ;;
	control) echo "base plugin model proxy control" ;;
	local) echo "base plugin model control proxy local" ;;
	kube) echo "base plugin model control proxy kube" ;;
	web) echo "base plugin model control proxy local web" ;;
	cli) echo "base plugin model control proxy local kube web cli" ;;
	*) echo "" ;;
	esac
}
bad=0 files=0
for dir in base plugin model proxy control local kube web cli; do
	[ -d "$core/$dir" ] || { echo "FAIL: core/$dir is missing"; bad=$((bad + 1)); continue; }
	ok=" $(allowed "$dir") "
	for f in "$core/$dir"/*.[ch]; do
		files=$((files + 1))
		while IFS= read -r inc; do
			top=${inc%%/*}
			case "$ok" in
			*" $top "*) ;;
			*) echo "FAIL: core/$dir/${f##*/} includes \"$inc\" (core/$dir may include: $(allowed "$dir"))"
			   bad=$((bad + 1)) ;;
			esac
		done < <(sed -n 's/^#include "\([a-z]*\/[^"]*\)".*/\1/p' "$f")
	done
done
# No source file left at the top of core/: every file belongs to a folder.
for f in "$core"/*.[ch]; do
	[ -e "$f" ] || continue
	echo "FAIL: core/${f##*/} is outside the folders of core/README.md"
	bad=$((bad + 1))
done
[ "$files" -gt 40 ] || { echo "FAIL: only $files files found under $core"; exit 1; }
[ $bad = 0 ] || exit 1
echo "PASS: $files files in core/ follow the layout rules (core/README.md)"
