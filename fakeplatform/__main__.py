import argparse
import contextlib

from fakeplatform.platforms import PlatformServer as FakePlatformServer


def _users(spec: str) -> list[tuple[str, str]]:
    """ "telegram:100000-100004,instagram:17841" -> [(platform, id), ...]"""
    users = []
    for item in filter(None, spec.split(",")):
        platform, _, ids = item.partition(":")
        lo, _, hi = ids.partition("-")
        users += [(platform, str(i)) for i in range(int(lo), int(hi or lo) + 1)]
    return users


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the local fake messaging platform.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--users",
        default="",
        help="users who already started the bot / wrote first, e.g. telegram:100000-100004",
    )
    args = parser.parse_args()
    server = FakePlatformServer(port=args.port)
    for platform, uid in _users(args.users):
        user = server.platforms.user(platform, uid)
        user.update(started=True, last_inbound=server.platforms.now())
    print(f"fake platform listening on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
