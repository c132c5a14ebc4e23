#!/usr/bin/env bash
# san-build.sh BUILD [TARGET...]: configure BUILD as flowpic's ASan + UBSan build if needed, then build it.
#
# Used by test-sanitize.sh and test-fuzz.sh, so one build directory can serve both. The
# compiler is $CC (default: the system's, gcc). With clang every file is also compiled with
# libFuzzer's coverage (-fsanitize=fuzzer-no-link) and tests/fuzz builds the fuzz_<name>
# libFuzzer binaries; the suites run in that build as in any other. An existing BUILD is
# reused only if it was configured for this source tree with the sanitizers (and with $CC,
# when CC is set); otherwise the script stops and says so (it never removes a directory).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: san-build.sh BUILD [TARGET...]}
shift

# is_clang COMPILER: "yes" if the compiler is clang, else "no".
is_clang()
{
	if [[ $("$1" --version 2>/dev/null | head -n 1) == *clang* ]]; then
		echo yes
	else
		echo no
	fi
}

if [[ -f $build/build.ninja ]]; then
	# Source tree, sanitizers and compiler of the existing configuration.
	read -r src san cc_id < <(/usr/bin/python3 - "$build" <<'PY'
import json, sys
info = sys.argv[1] + "/meson-info/"
src = json.load(open(info + "meson-info.json"))["directories"]["source"]
opts = {o["name"]: o["value"] for o in json.load(open(info + "intro-buildoptions.json"))}
san = opts.get("b_sanitize", "none")
san = ",".join(san) if isinstance(san, list) else san
cc = "?"
for t in json.load(open(info + "intro-targets.json")):
	for s in t.get("target_sources", []):
		if s.get("language") == "c":
			cc = s["compiler"][0]
			break
	if cc != "?":
		break
print(src, san, cc.rsplit("/", 1)[-1])
PY
)
	if [[ $(cd "$src" && pwd -P) != $(cd "$top" && pwd -P) ]]; then
		echo "san-build: $build was configured for $src, not $top; remove it or choose another directory" >&2
		exit 1
	fi
	if [[ $san != address,undefined ]]; then
		echo "san-build: $build is not an ASan + UBSan build (b_sanitize=$san); remove it or choose another directory" >&2
		exit 1
	fi
	if [[ -n ${CC:-} && $(is_clang "$CC") != $(is_clang "$cc_id") ]]; then
		echo "san-build: $build was configured with $cc_id, not CC=$CC; remove it or choose another directory" >&2
		exit 1
	fi
	echo "san-build: reusing $build ($cc_id, b_sanitize=$san)"
else
	args=(-Db_sanitize=address,undefined -Db_lundef=false)
	if [[ $(is_clang "${CC:-cc}") == yes ]]; then
		args+=(-Dc_args=-fsanitize=fuzzer-no-link)
	fi
	meson setup "$build" "$top" "${args[@]}"
fi
ninja -C "$build" "$@"
