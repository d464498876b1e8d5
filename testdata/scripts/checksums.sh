#!/bin/sh
# Writes SHA256SUMS into every committed golden directory of testdata (golden/, golden-import/,
# golden-preprocess/, golden-training/): one line per file, "<sha256>  <path relative to the directory>",
# sorted bytewise, which is sha256sum's own format, so `cd testdata/golden && sha256sum -c SHA256SUMS` checks
# a directory by hand. GoldenChecksumsTest verifies every file against these manifests in every build.
#
# Run it after regenerating goldens with their scripts (scripts/make_*_golden.py), and commit the manifests
# with the files. From any directory:
#     testdata/scripts/checksums.sh
# Skipped: golden/simple-net/ and golden/cifar10-net/ (large, generated, git-ignored) and __pycache__/.
set -eu
cd "$(dirname "$0")/.."
for dir in golden*/; do
    dir=${dir%/}
    (
        cd "$dir"
        find . -type f ! -name SHA256SUMS ! -name '.*' \
            ! -path './simple-net/*' ! -path './cifar10-net/*' ! -path '*/__pycache__/*' -print0 \
            | sed -z 's|^\./||' | LC_ALL=C sort -z | xargs -0 -r sha256sum --
    ) > "$dir/.SHA256SUMS.tmp"
    mv "$dir/.SHA256SUMS.tmp" "$dir/SHA256SUMS"
    echo "$dir/SHA256SUMS: $(wc -l < "$dir/SHA256SUMS") files"
done
