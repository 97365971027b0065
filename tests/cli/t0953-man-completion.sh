#!/usr/bin/env bash
# Man pages and bash completion, generated from the command entries
# (src/cmd/generate.c, scripts/gen-docs.sh): every command has a page that
# man finds and groff renders without warnings, and completion offers the
# commands, subcommands, options, choices, DAG ids, run ids and workspaces.
. "$(dirname "$0")/../lib.sh"

expect_success 'gen-docs writes a page per command that man finds and renders' '
	"$SRC_ROOT/scripts/gen-docs.sh" "$(command -v synthflow)" share &&
	test -f share/man/man1/synthflow.1 &&
	synthflow --complete commands >cmds && test "$(wc -l <cmds)" -ge 18 &&
	for c in $(cat cmds); do
		test -s share/man/man1/synthflow-$c.1 || { echo "no page for $c"; exit 1; }
		groff -man -Tutf8 -ww -z share/man/man1/synthflow-$c.1 2>warn || exit 1
		test ! -s warn || { cat warn; exit 1; }
		must_contain share/man/man1/synthflow.1 "synthflow\\\\-$c" || exit 1
	done &&
	MANPATH=$PWD/share/man MANWIDTH=100 man synthflow-trigger >page 2>/dev/null &&
	must_contain page "^SYNTHFLOW-TRIGGER(1)" &&
	must_contain page "synthflow trigger DAG" &&
	must_contain page "-p, --param KEY=VALUE" &&
	must_contain page "--wait" &&
	MANPATH=$PWD/share/man MANWIDTH=100 man synthflow-runs >page 2>/dev/null &&
	must_contain page "synthflow runs list \[DAG\] \[--limit N\] \[--json\]" &&
	MANPATH=$PWD/share/man MANWIDTH=100 man synthflow-run >page 2>/dev/null &&
	must_contain page "--gpus MODE" && must_contain page "(auto, all, none)" &&
	test_exit 2 synthflow --man nosuch 2>err && must_contain err "unknown command .nosuch."
'

# complete WORDS...: what bash would offer for the last word.
complete_words() {
	bash -c '. share/bash-completion/completions/synthflow &&
		COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) && _synthflow &&
		for w in "${COMPREPLY[@]}"; do echo "$w"; done | sort' complete "$@"
}

expect_success 'completion: commands, subcommands, options and choices' '
	"$SRC_ROOT/scripts/gen-docs.sh" "$(command -v synthflow)" share &&
	complete_words synthflow tr >out && printf "trigger\n" | must_equal out &&
	complete_words synthflow dags "" >out && printf "graph\nlist\nnext\npause\nshow\nunpause\nvalidate\n" | must_equal out &&
	complete_words synthflow trigger --w >out && printf -- "--wait\n" | must_equal out &&
	complete_words synthflow runs list -- >out && must_contain out "^--limit$" &&
	complete_words synthflow run --gpus "" >out && printf "all\nauto\nnone\n" | must_equal out &&
	mkdir zdir && touch zfile.yaml &&
	complete_words synthflow --data z >out && printf "zdir\n" | must_equal out &&
	complete_words synthflow dags validate zf >out && printf "zfile.yaml\n" | must_equal out
'

expect_success 'completion: DAG ids, run ids and workspaces from the data folder' '
	"$SRC_ROOT/scripts/gen-docs.sh" "$(command -v synthflow)" share &&
	synthflow init elsewhere >/dev/null &&
	mkdir -p elsewhere/src/voice/dags elsewhere/src/voice/container &&
	printf "tasks:\n  a:\n    run: \"true\"\n" >elsewhere/src/voice/dags/alpha.yaml &&
	printf "tasks:\n  b:\n    run: \"true\"\n" >elsewhere/src/voice/dags/beta.yaml &&
	run=$(synthflow --data elsewhere test alpha 2>/dev/null | head -n1) &&
	complete_words synthflow --data elsewhere trigger "" >out && printf "alpha\nbeta\n" | must_equal out &&
	complete_words synthflow --data elsewhere test -p x=1 b >out && printf "beta\n" | must_equal out &&
	complete_words synthflow --data elsewhere runs show "" >out && printf "%s\n" "$run" | must_equal out &&
	complete_words synthflow --data elsewhere build "" >out && printf "voice\n" | must_equal out &&
	complete_words synthflow trigger "" >out && test ! -s out
'

test_done
