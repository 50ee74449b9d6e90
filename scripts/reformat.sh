#!/usr/bin/env bash
# The one-time Biome reformat (run once, by hand, on main after the branches that touch src/ and test/ are in).
# It formats the tree (biome.json), applies Biome's safe lint fixes, proves the result still builds and passes the
# unit tests, commits it as one commit of its own, and lists that commit in .git-blame-ignore-revs (a second commit,
# since a commit cannot name its own hash). After it, .ci/run's format check and lint are on.
#
# It stops, leaving the tree as it found it, when the tree is dirty, when lint still reports a finding after the
# safe fixes (fix those in a normal commit first: they change code, and blame must not skip them), or when the
# build or a unit test fails on the reformatted tree.
set -euo pipefail
cd "$(dirname "$0")/.."

revs=.git-blame-ignore-revs
if [ -n "$(git status --porcelain)" ]; then
  echo "reformat: the work tree has uncommitted or untracked files; commit, stash or remove them first" >&2
  exit 1
fi
restore() {
  git checkout -q -- .
  echo "reformat: stopped; the work tree is back as it was" >&2
}

echo "== biome: format and safe lint fixes"
# check --write = format --write + the lint fixes Biome marks safe (never --unsafe).
npx biome check --write . >/dev/null 2>&1 || true
if ! npx biome format . >/dev/null 2>&1; then
  npx biome format . || true
  restore
  exit 1
fi
if ! npm run -s lint; then
  echo "reformat: lint still reports findings after the safe fixes (above); fix them in a commit of their own" >&2
  restore
  exit 1
fi
if git diff --quiet; then
  echo "reformat: nothing to change, the tree is already formatted"
  exit 0
fi
git diff --shortstat

echo "== build and unit tests on the reformatted tree"
npx tsc -p tsconfig.json || { restore; exit 1; }
node dist/test/run.js --unit || { restore; exit 1; }

git add -u
git commit -q -m "Reformat with Biome (biome.json: 120 columns, 2 spaces, single quotes, semicolons, trailing commas) and apply its safe lint fixes; no other change (listed in .git-blame-ignore-revs)"
rev=$(git rev-parse HEAD)
printf '%s\n' "$rev" >>"$revs"
git add "$revs"
git commit -q -m "List the Biome reformat ${rev:0:12} in .git-blame-ignore-revs"
echo "reformat: committed $rev and listed it in $revs"
echo "reformat: git config blame.ignoreRevsFile $revs  makes git blame skip it"
