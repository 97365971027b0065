# What the browser tests (tests/e2e) share: source after ../lib.sh.

# browser_ready: the first test of a browser script: Debian's chromium is
# installed and playwright-core (tests/e2e/package.json) is, or gets, installed.
browser_ready() {
	expect_success 'playwright-core and chromium are available' '
		command -v chromium >/dev/null || { echo "chromium missing: scripts/install-deps.sh test"; exit 1; }
		if [ ! -d "$TEST_ROOT/e2e/node_modules/playwright-core" ]; then
			npm install --prefix "$TEST_ROOT/e2e" --no-audit --no-fund --loglevel=error
		fi
		test -d "$TEST_ROOT/e2e/node_modules/playwright-core"
	'
}
