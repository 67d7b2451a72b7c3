import argparse
import contextlib

from fakeplatform.platforms import PlatformServer as FakePlatformServer


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the local fake messaging platform.")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = FakePlatformServer(port=args.port)
    print(f"fake platform listening on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
