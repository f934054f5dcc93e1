#!/bin/sh
# Rebuilds socket_owners.bpf.o from socket_owners.bpf.c (`npm run build:bpf`; an argument:
# build to that file instead, as the test does). Needs clang, llvm-strip
# (llvm) and libbpf-dev (bpf_helpers.h); the result is shipped, so users need neither. The flags
# make the object depend on the source and the compiler alone: relative paths, no DWARF
# (llvm-strip -g keeps the BTF that CO-RE needs and drops the debug info that names the
# build directory). test/bpf-object.test.ts checks that a rebuild gives the same bytes.
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang}
STRIP=${LLVM_STRIP:-llvm-strip}
out=${1:-socket_owners.bpf.o}
"$CLANG" -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -fdebug-prefix-map="$(pwd)"=. -c socket_owners.bpf.c -o "$out"
"$STRIP" -g "$out"
# The compiler that built the shipped object: another version emits other bytes.
if [ $# -eq 0 ]; then "$CLANG" --version | head -n 1 > socket_owners.bpf.o.clang; fi
