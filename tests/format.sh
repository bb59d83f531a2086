#!/bin/sh
# The format check: every C source and header of the tree is as the root's
# .clang-format would write it. Prints "ok - format" or "not ok - format"
# with the files that differ (clang-format -i FILE fixes one). Run by
# 'make check' (tests/run-all) and 'make format-check'.
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
if ! command -v clang-format >/dev/null 2>&1; then
	echo "not ok - format: clang-format not found (apt-get install clang-format, or run ./configure as root)"
	exit 1
fi
files=$(find wire rpc ctl ssi vfs-proxy netproxy ssid helpers restore launcher tests \
	-name '*.[ch]' -not -path '*/build/*' | sort)
bad=""
for f in $files; do
	clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -n "$bad" ]; then
	echo "not ok - format: these files differ from .clang-format (clang-format -i FILE):$bad"
	exit 1
fi
echo "ok - format: $(echo "$files" | wc -l) files as .clang-format writes them ($(clang-format --version | sed 's/.*version \([0-9.]*\).*/\1/'))"
