"""NATS JetStream: one connection per process, streams declared at start, durable pull
consumers with bounded retries and a dead-letter stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from motcua.v1 import events_pb2
from services.platform.logging import get_logger, request_id_var

log = get_logger("messaging")

DUPLICATE_WINDOW_SECONDS = 600.0


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]


# Each producer declares its own stream; the dead-letter stream is shared.
DOSSIER_STREAM = StreamSpec("DOSSIER", ("dossier.>",))
IDENTITY_STREAM = StreamSpec("IDENTITY", ("identity.>",))
CATALOGUE_STREAM = StreamSpec("CATALOGUE", ("catalogue.>",))
DEADLETTER_STREAM = StreamSpec("DEADLETTER", ("deadletter.>",))
NOTIFICATION_STREAM = StreamSpec("NOTIFICATION", ("notification.>",))


class Bus:
    """A NATS connection that keeps trying: a service starts and serves without NATS,
    and its outbox waits until NATS is back."""

    def __init__(self, url: str, *, name: str, streams: tuple[StreamSpec, ...] = ()):
        self._url = url
        self._name = name
        self._streams = streams
        self.nc: nats.NATS | None = None
        self.js = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected and self._ready.is_set()

    async def health_check(self) -> bool:
        """For ServiceServer.add_health_check("nats", bus.health_check)."""
        return self.connected

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect_forever())

    async def wait_ready(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def _connect_forever(self) -> None:
        delay = 0.2
        while True:
            try:
                self.nc = await nats.connect(
                    self._url,
                    name=self._name,
                    connect_timeout=2,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnect,
                    reconnected_cb=self._on_reconnect,
                )
                self.js = self.nc.jetstream(timeout=2)
                await self.declare_streams()
                self._ready.set()
                log.info("nats_connected", url=self._url)
                return
            except Exception as exc:
                log.warning("nats_connect_failed", error=str(exc) or type(exc).__name__)
                if self.nc is not None:
                    try:
                        await self.nc.close()
                    except Exception:
                        pass
                    self.nc = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 3.0)

    async def declare_streams(self) -> None:
        for spec in self._streams:
            config = StreamConfig(
                name=spec.name,
                subjects=list(spec.subjects),
                storage=StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            )
            try:
                await self.js.add_stream(config)
            except BadRequestError:
                await self.js.update_stream(config)

    async def _on_error(self, exc):
        log.warning("nats_error", error=str(exc) or type(exc).__name__)

    async def _on_disconnect(self):
        log.warning("nats_disconnected")

    async def _on_reconnect(self):
        log.info("nats_reconnected")
        try:
            await self.declare_streams()
        except Exception as exc:
            log.warning("nats_declare_failed", error=str(exc))

    async def publish(self, subject: str, data: bytes, *, event_id: str, request_id: str = "") -> None:
        headers = {"Nats-Msg-Id": event_id}
        if request_id:
            headers["X-Request-Id"] = request_id
        await self.js.publish(subject, data, headers=headers, timeout=2)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
        if self.nc is not None and not self.nc.is_closed:
            # Close rather than drain: unpublished events wait in the outbox and unacked
            # messages are redelivered, so nothing is lost, and a stop never hangs.
            try:
                await asyncio.wait_for(self.nc.close(), 3)
            except (TimeoutError, asyncio.TimeoutError):
                pass


Handler = Callable[[events_pb2.EventEnvelope], Awaitable[None]]
# Handles several envelopes at once (one transaction); raising means none of them was handled.
BatchHandler = Callable[[list[events_pb2.EventEnvelope]], Awaitable[None]]
# Told (subject, raw data, error) after a message went to the dead-letter stream.
DeadLetterHook = Callable[[str, bytes, str], Awaitable[None]]


async def consume(
    bus: Bus,
    *,
    stream: StreamSpec,
    durable: str,
    subject: str,
    handler: Handler,
    max_deliver: int = 5,
    batch: int = 64,
    on_dead_letter: DeadLetterHook | None = None,
    batch_handler: BatchHandler | None = None,
) -> None:
    """Run a durable pull consumer forever. The handler must be idempotent (it may see a
    message again after a crash); a message that fails ``max_deliver`` times goes to
    ``deadletter.<durable>`` instead of blocking the stream.

    With ``batch_handler``, each fetched batch (what is waiting, up to ``batch``) is handed
    over at once and acknowledged after it returns; if it raises, the batch is handled again
    one message at a time by ``handler``, so one bad message is retried and dead-lettered
    alone and the rest go through."""
    await bus.wait_ready()
    psub = None
    while psub is None:
        try:
            psub = await bus.js.pull_subscribe(
                subject,
                durable=durable,
                stream=stream.name,
                config=ConsumerConfig(
                    ack_wait=30,
                    max_deliver=max_deliver + 1,
                    deliver_policy=DeliverPolicy.ALL,
                    max_ack_pending=1000,
                ),
            )
        except Exception as exc:
            log.warning("consumer_subscribe_failed", durable=durable, error=str(exc) or type(exc).__name__)
            await asyncio.sleep(1.0)
    log.info("consumer_started", durable=durable, subject=subject)
    while True:
        try:
            msgs = await psub.fetch(batch, timeout=5)
        except (TimeoutError, asyncio.TimeoutError, nats.errors.TimeoutError):
            continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("consumer_fetch_failed", durable=durable, error=str(exc) or type(exc).__name__)
            await asyncio.sleep(0.5)
            continue
        if batch_handler is not None and len(msgs) > 1 and await _handle_batch(msgs, durable, batch_handler):
            continue
        for msg in msgs:
            await _handle_one(bus, msg, durable=durable, handler=handler, max_deliver=max_deliver,
                              on_dead_letter=on_dead_letter)


async def _handle_batch(msgs: list, durable: str, batch_handler: BatchHandler) -> bool:
    """True when the whole batch was handled and acknowledged; False leaves every message
    to the one-by-one path (nothing of the batch was committed)."""
    try:
        envelopes = [events_pb2.EventEnvelope.FromString(msg.data) for msg in msgs]
        await batch_handler(envelopes)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("event_batch_failed", durable=durable, size=len(msgs), error=str(exc) or type(exc).__name__)
        return False
    for msg in msgs:
        request_id_var.set((msg.headers or {}).get("X-Request-Id", ""))
        log.info("event_handled", durable=durable, subject=msg.subject, delivered=msg.metadata.num_delivered,
                 batch=len(msgs))
        try:
            await msg.ack()
        except Exception as exc:  # the event may come again; the handler is idempotent
            log.warning("event_ack_failed", error=str(exc))
    request_id_var.set("")
    return True


async def _handle_one(bus: Bus, msg, *, durable: str, handler: Handler, max_deliver: int,
                      on_dead_letter: DeadLetterHook | None = None) -> None:
    request_id_var.set((msg.headers or {}).get("X-Request-Id", ""))
    try:
        envelope = events_pb2.EventEnvelope.FromString(msg.data)
        await handler(envelope)
    except Exception as exc:
        delivered = msg.metadata.num_delivered
        if delivered >= max_deliver:
            log.error("event_dead_lettered", durable=durable, subject=msg.subject, error=str(exc))
            try:
                await bus.js.publish(
                    f"deadletter.{durable}",
                    msg.data,
                    headers={"Nats-Msg-Id": f"{durable}:{msg.metadata.sequence.stream}",
                             "X-Original-Subject": msg.subject, "X-Error": str(exc)[:500]},
                )
                await msg.term()
            except Exception as dl_exc:
                log.warning("deadletter_failed", error=str(dl_exc))
                return
            if on_dead_letter is not None:
                try:
                    await on_dead_letter(msg.subject, msg.data, str(exc))
                except Exception as hook_exc:
                    log.warning("deadletter_hook_failed", error=str(hook_exc))
            return
        log.warning("event_failed", durable=durable, subject=msg.subject, delivered=delivered, error=str(exc))
        try:
            await msg.nak(delay=min(0.5 * 2**delivered, 30))
        except Exception:
            pass
        return
    log.info("event_handled", durable=durable, subject=msg.subject, delivered=msg.metadata.num_delivered)
    try:
        await msg.ack()
    except Exception as exc:  # the event may come again; the handler is idempotent
        log.warning("event_ack_failed", error=str(exc))
