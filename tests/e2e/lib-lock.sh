# What the lock tests (t1106, t1107) share: source after ../lib.sh.

# image_packages IMAGE: the image's packages in the lock's words, read
# without synthflow (dpkg-query and pip freeze in a throw-away container).
image_packages() {
	docker run --rm --network none --entrypoint "" "$1" sh -c '
		dpkg-query -W -f "\${db:Status-Abbrev} \${binary:Package} \${Version}\n" |
			awk "\$1 == \"ii\" { print \"apt \" \$2 \" \" \$3 }"
		python3 -m pip freeze --all 2>/dev/null | sed "s/^/pip /"' | LC_ALL=C sort
}

# lock_packages LOCK: its apt and pip lines, in the same order.
lock_packages() { grep -E '^(apt|pip) ' "$1" | LC_ALL=C sort; }
