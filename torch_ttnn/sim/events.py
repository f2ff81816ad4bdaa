"""Command-queue events: record_event, wait_for_event, event_synchronize (real ttnn 0.81.1 signatures).

A device opened with two command queues (`ttnn.CreateDevice(device_id, num_command_queues=2)`) runs what is
enqueued on each queue in order, and the two queues side by side: typically queue 1 writes the next input
while queue 0 runs the current program. An event marks a point of one queue; `wait_for_event(cq, event)` makes
queue `cq` wait for it and `event_synchronize(event)` the host. The simulator executes every command when it is
enqueued (values never race); events order the modelled timeline (device.profiler): each queue has its clock,
and an event carries the time of its queue when it was recorded.
"""
from __future__ import annotations

import inspect


class MeshEvent:
    """A point on a command queue of a device (or of every chip of a mesh)."""

    def __init__(self, device, cq: int, times: list):
        self.device = device
        self.cq_id = cq
        self._times = times         # per chip: (profiler, its queue_clock(cq) when recorded)

    def __repr__(self) -> str:
        return f"MeshEvent(device={getattr(self.device, 'device_id', self.device)!r}, cq_id={self.cq_id})"


def _chips(device) -> list:
    return list(getattr(device, "chips", None) or [device])


def record_event(mesh_device, cq_id=None, sub_device_ids=[], device_range=None) -> MeshEvent:  # noqa: B006
    """An event at the end of what is enqueued on command queue `cq_id` now."""
    mesh_device.check_open("ttnn.record_event")
    cq = mesh_device.queue(cq_id, "ttnn.record_event")
    return MeshEvent(mesh_device, cq, [(c.profiler, c.profiler.queue_clock(cq)) for c in _chips(mesh_device)])


def wait_for_event(cq_id=None, mesh_event=None) -> None:
    """Commands enqueued on queue `cq_id` from now on start after `mesh_event`."""
    if mesh_event is None:
        raise TypeError("ttnn.wait_for_event: missing the required argument mesh_event")
    if not isinstance(mesh_event, MeshEvent):
        raise TypeError(f"ttnn.wait_for_event: mesh_event must be a ttnn.MeshEvent (from ttnn.record_event), got "
                        f"{type(mesh_event).__name__}")
    cq = mesh_event.device.queue(cq_id, "ttnn.wait_for_event")
    for prof, when in mesh_event._times:
        prof.queue_waits(cq, when)


# the real (nanobind) signature: cq_id defaults to None, yet mesh_event after it is required
wait_for_event.__signature__ = inspect.Signature(
    [inspect.Parameter("cq_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
     inspect.Parameter("mesh_event", inspect.Parameter.POSITIONAL_OR_KEYWORD)], __validate_parameters__=False)


def event_synchronize(mesh_event) -> None:
    """The host blocks until `mesh_event` has happened."""
    if not isinstance(mesh_event, MeshEvent):
        raise TypeError(f"ttnn.event_synchronize: mesh_event must be a ttnn.MeshEvent, got "
                        f"{type(mesh_event).__name__}")
    for prof, when in mesh_event._times:
        prof.host_waits(mesh_event.cq_id, when)
