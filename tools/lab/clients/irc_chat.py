# Two IRC clients over TLS (port 6697) talking in a channel and privately, paced like people.
import argparse
import asyncio
import ssl

import convo


class Irc:
    def __init__(self, nick):
        self.nick = nick
        self.reader = None
        self.writer = None
        self.welcomed = asyncio.Event()

    async def connect(self, host, port):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.reader, self.writer = await asyncio.open_connection(host, port, ssl=ctx)
        self.send("NICK %s" % self.nick)
        self.send("USER %s 0 * :%s lab user" % (self.nick, self.nick))
        asyncio.ensure_future(self.read_loop())

    def send(self, line):
        self.writer.write((line + "\r\n").encode())

    async def read_loop(self):
        while True:
            line = await self.reader.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\r\n")
            if text.startswith("PING"):
                self.send("PONG" + text[4:])
            parts = text.split()
            if len(parts) > 1 and parts[1] == "001":
                self.welcomed.set()


async def run(a):
    users = [Irc("alice%d" % (a.seed % 1000)), Irc("bob%d" % (a.seed % 1000))]
    for u in users:
        await u.connect(a.host, a.port)
    for u in users:
        await asyncio.wait_for(u.welcomed.wait(), 30)
        u.send("JOIN #lab")
    for who, think, typing, text in convo.conversation(a.seed):
        await asyncio.sleep(think + typing)
        src = users[who]
        target = "#lab" if len(text) % 3 else users[1 - who].nick
        src.send("PRIVMSG %s :%s" % (target, text))
        await src.writer.drain()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=6697)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    asyncio.get_event_loop().run_until_complete(run(a))


if __name__ == "__main__":
    main()
