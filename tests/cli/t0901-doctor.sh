#!/usr/bin/env bash
# synthflow doctor on simulated machines: fake `docker` and `nvidia-smi`
# programs are the only ones on PATH (no engine, engine down, a user without
# access, an old driver, no container toolkit, a broken driver, a taken
# port, a broken data folder, a good GPU machine), and each finding and its
# advice is checked.  `run` and `build` point to doctor when the engine fails.
. "$(dirname "$0")/../lib.sh"

SF=$SYNTHFLOW_BUILD/synthflow

# fake_machine: ./fake holds a docker and an nvidia-smi that answer from
# the FAKE_* variables; ./nodriver the same docker alone; ./empty nothing.
fake_machine() {
	synthflow init >/dev/null &&
	mkdir -p fake nodriver empty cdi &&
	cat >fake/docker <<-\X &&
	#!/bin/sh
	PATH=/usr/bin:/bin
	if [ -n "${FAKE_DOCKER_ERR:-}" ]; then echo "$FAKE_DOCKER_ERR" >&2; exit 1; fi
	case $1 in
	info) cat "$FAKE_INFO" ;;
	image)
		if [ -n "${FAKE_IMAGE_ENV:-}" ]; then echo "$FAKE_IMAGE_ENV"; exit 0; fi
		echo "Error: No such image: $6" >&2; exit 1 ;;
	run) echo "GPU 0: NVIDIA GeForce RTX 3090 (UUID: GPU-5fb2) args: $*" ;;
	*) echo "fake docker: $*" >&2; exit 1 ;;
	esac
	X
	cat >fake/nvidia-smi <<-\X &&
	#!/bin/sh
	if [ -n "${FAKE_SMI_FAIL:-}" ]; then
		echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
		exit 9
	fi
	printf "+---------------------------------------------------------------+\n"
	printf "| NVIDIA-SMI 470.256.02   Driver Version: 470.256.02   CUDA Version: %s  |\n" "$FAKE_CUDA"
	X
	chmod +x fake/docker fake/nvidia-smi && cp fake/docker nodriver/ &&
	printf "{\"ServerVersion\": \"24.0.5\", \"DockerRootDir\": \"%s\", \"CDISpecDirs\": [\"%s\"], \"Runtimes\": {\"runc\": {}%s}}\n" \
		"$PWD" "$PWD/cdi" "" >info-plain.json &&
	printf "{\"ServerVersion\": \"24.0.5\", \"DockerRootDir\": \"%s\", \"CDISpecDirs\": [\"%s\"], \"Runtimes\": {\"runc\": {}%s}}\n" \
		"$PWD" "$PWD/cdi" ", \"nvidia\": {\"path\": \"nvidia-container-runtime\"}" >info-nvidia.json
}

# doctor BIN_DIR [ARGS]: doctor with only BIN_DIR on PATH, in the data folder.
doctor() {
	bin=$1
	shift
	(cd run-data && PATH="$TRASH/$bin" "$SF" doctor "$@")
}

# finding FILE CHECK LEVEL: the text output has CHECK at LEVEL.
finding() {
	grep -q "^$3 *$2 " "$1" || { echo "no '$3 $2' in:"; cat "$1"; return 1; }
}

expect_success 'no engine installed: fail, and how to install it' '
	fake_machine &&
	test_exit 1 doctor empty >out &&
	finding out engine fail &&
	must_contain out "no container engine: .docker. is not installed" &&
	must_contain out "fix: install it with .sudo apt-get install docker.io." &&
	finding out nvidia-driver warn &&
	must_contain out "sudo ubuntu-drivers install"
'

expect_success 'engine down: fail, and how to start it' '
	fake_machine &&
	FAKE_DOCKER_ERR="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" \
		test_exit 1 doctor nodriver >out &&
	finding out engine fail &&
	must_contain out "the Docker engine is not running (Cannot connect to the Docker daemon" &&
	must_contain out "fix: start it with .sudo systemctl start docker."
'

expect_success 'a user without access to the engine: the docker group (or rootless Podman)' '
	fake_machine &&
	FAKE_DOCKER_ERR="permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/info\": dial unix /var/run/docker.sock: connect: permission denied" \
		test_exit 1 doctor nodriver >out &&
	finding out engine fail &&
	must_contain out "no permission to talk to the Docker engine" &&
	must_contain out "sudo usermod -aG docker \$USER" &&
	must_contain out "rootless Podman"
'

expect_success 'a driver too old for the base image CUDA: fail with the driver or image to pick' '
	fake_machine &&
	FAKE_INFO=$PWD/info-nvidia.json FAKE_CUDA=11.4 \
	FAKE_IMAGE_ENV="[\"PATH=/usr/bin\",\"CUDA_VERSION=12.1.0\",\"LANG=C.UTF-8\"]" \
		test_exit 1 doctor fake >out &&
	finding out engine ok && finding out nvidia-driver ok &&
	must_contain out "NVIDIA driver 470.256.02, for CUDA up to 11.4" &&
	finding out cuda fail &&
	must_contain out "needs CUDA 12.1.0, but the driver supports CUDA up to 11.4" &&
	must_contain out "install a newer NVIDIA driver" &&
	must_contain out "image for CUDA 11.4 or older" &&
	finding out gpu-runtime ok
'

expect_success 'no container toolkit: the engine cannot pass the GPUs' '
	fake_machine &&
	FAKE_INFO=$PWD/info-plain.json FAKE_CUDA=12.4 \
	FAKE_IMAGE_ENV="[\"CUDA_VERSION=12.1.0\"]" \
		test_exit 1 doctor fake >out &&
	finding out cuda ok &&
	finding out gpu-runtime fail &&
	must_contain out "no NVIDIA runtime in .docker info. and no CDI spec" &&
	must_contain out "nvidia-container-toolkit" &&
	must_contain out "nvidia-ctk runtime configure --runtime=docker"
'

expect_success 'a CDI spec for nvidia.com/gpu is enough' '
	fake_machine &&
	printf "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\n" >cdi/nvidia.yaml &&
	FAKE_INFO=$PWD/info-plain.json FAKE_CUDA=12.4 FAKE_IMAGE_ENV="[\"CUDA_VERSION=12.1.0\"]" \
		doctor fake --gpu-test >out &&
	finding out gpu-runtime ok && must_contain out "CDI spec declares nvidia.com/gpu" &&
	finding out gpu-test ok && must_contain out "args: run --rm --device nvidia.com/gpu=all"
'

expect_success 'a driver that does not load: fail with what to look at' '
	fake_machine &&
	FAKE_INFO=$PWD/info-nvidia.json FAKE_SMI_FAIL=1 test_exit 1 doctor fake >out &&
	finding out nvidia-driver fail &&
	must_contain out "nvidia-smi fails (exit 9): NVIDIA-SMI has failed" &&
	must_contain out "reboot after a driver install"
'

expect_success 'a good GPU machine: all ok, --gpu-test runs nvidia-smi in the base image, --json' '
	fake_machine &&
	FAKE_INFO=$PWD/info-nvidia.json FAKE_CUDA=12.4 FAKE_IMAGE_ENV="[\"CUDA_VERSION=12.1.0\"]" \
		doctor fake --gpu-test --json >out.json &&
	jq -e ".fail == 0 and .ok >= 8" out.json &&
	jq -e "[.findings[].check] | index(\"gpu-test\") != null" out.json &&
	jq -r ".findings[] | select(.check == \"gpu-test\") | .message" out.json >t &&
	must_contain t "GPU 0: NVIDIA GeForce RTX 3090" &&
	must_contain t "args: run --rm --gpus all pytorch/pytorch:latest nvidia-smi -L" &&
	jq -e ".findings[] | select(.check == \"cuda\") | .level == \"ok\"" out.json &&
	jq -e "[.findings[] | select(.level == \"ok\") | .fix] | all(. == null)" out.json &&
	jq -e "[.findings[] | select(.level != \"ok\") | .fix] | all(type == \"string\")" out.json
'

expect_success 'a port of synthflow.yaml taken by another program: fail with how to find it' '
	fake_machine || exit 1
	port=$(free_port)
	python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1 &
	pid=$!
	n=0 && while ! curl -s -o /dev/null "http://127.0.0.1:$port/" && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	status=0
	FAKE_INFO=$PWD/info-plain.json SYNTHFLOW_PORTS_WEB=$port doctor nodriver >out || status=$?
	kill $pid
	test $status = 1 &&
	finding out port-web fail &&
	must_contain out "port $port (ports.web) is in use by another program" &&
	must_contain out "sudo ss -ltnp sport = :$port" &&
	finding out port-jupyter ok
'

expect_success 'a data folder missing its folders, and no data folder at all' '
	fake_machine &&
	rm -r run-data/generated &&
	FAKE_INFO=$PWD/info-plain.json test_exit 1 doctor nodriver >out &&
	finding out data-folder fail &&
	must_contain out "lacks generated/" && must_contain out "fix: .synthflow init " &&
	# a folder with no run-data/ at or above it
	elsewhere=$(mktemp -d) &&
	status=0
	(cd "$elsewhere" && FAKE_INFO=$TRASH/info-plain.json PATH=$TRASH/nodriver "$SF" doctor) >out ||
		status=$?
	rm -r "$elsewhere"
	test $status = 0 &&
	finding out data-folder warn && must_contain out "no data folder here"
'

expect_success 'run and build point to doctor when the engine fails' '
	fake_machine &&
	(cd run-data && synthflow new w >/dev/null) &&
	FAKE_DOCKER_ERR="Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" \
		PATH=$TRASH/nodriver test_exit 1 "$SF" --data run-data build w 2>err &&
	must_contain err "the Docker engine is not running" &&
	must_contain err "synthflow doctor. checks this machine" &&
	FAKE_DOCKER_ERR="Cannot connect to the Docker daemon" \
		PATH=$TRASH/nodriver test_exit 1 "$SF" --data run-data run w 2>err &&
	must_contain err "synthflow doctor. checks this machine"
'

expect_success 'doctor --help and a bad option' '
	synthflow doctor --help >out && must_contain out "synthflow doctor \[--json\] \[--gpu-test\]" &&
	test_exit 2 synthflow doctor --nope 2>err && must_contain err "unknown option .--nope."
'

test_done
