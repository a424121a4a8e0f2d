# Piinguin server image: python:3.11-slim, installed from this checkout at the versions in
# constraints.txt (the ones the tests ran with), run as a non-root user.
FROM python:3.11-slim AS build
# A C compiler and OpenSSL's headers build the C sealer (hatch_build.py), in this stage only:
# the image that runs keeps python:3.11-slim's own libssl3, which is all the sealer needs.
# Python's headers come with the official image; a Debian-Python stand-in needs python3-dev.
RUN include=$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])') \
    && packages="gcc libc6-dev libssl-dev" \
    && { [ -f "$include/Python.h" ] || packages="$packages python3-dev"; } \
    && apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        $packages > /dev/null \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The dependencies first, in a layer of their own: a change to the code or the README then
# rebuilds only Piinguin's own wheel.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > requirements.txt \
    && pip wheel --no-cache-dir --disable-pip-version-check --constraint constraints.txt \
        --wheel-dir /wheels --requirement requirements.txt
# hatch_build.py, the build hook that compiles the C sealer into Piinguin's wheel.
COPY README.md LICENSE hatch_build.py ./
COPY src ./src
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 piinguin
COPY --from=build /wheels /wheels
# Only the wheels built above: nothing resolves anew here.
RUN pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore \
        --no-index --find-links /wheels piinguin \
    && rm -rf /wheels
USER piinguin
EXPOSE 50051
# Bind every interface inside the container; publish the port deliberately.
ENV PIINGUIN_HOST=0.0.0.0 \
    PIINGUIN_PORT=50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["piinguin-healthcheck", "127.0.0.1:50051"]
# Arguments after the image name (compose's `command:`) are piinguin-server's flags.
ENTRYPOINT ["piinguin-server"]
