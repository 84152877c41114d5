"""One websocket per project. Thin: authenticate, ask the policy, join the project's group."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from portal.access import scope
from portal.access.policy import Action, can
from portal.accounts.credentials import session_user, user_group


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


# What a socket must be allowed, per event family, to hear an event: the same action HTTP asks before
# showing that row. Footage, runs and review notes are footage; an unknown family is too (closed by
# default). A studio admin without a project role may open the project's settings (project.view) but
# not its footage, so hears none of these.
EVENT_ACTIONS: dict[str, Action] = {
    "asset": Action.FOOTAGE_VIEW,
    "toolrun": Action.FOOTAGE_VIEW,
    "review": Action.FOOTAGE_VIEW,
}


def event_action(event_type: str) -> Action:
    return EVENT_ACTIONS.get(event_type.split(".", 1)[0], Action.FOOTAGE_VIEW)


@database_sync_to_async
def _load_allowed_project(session_key: str | None, project_id: int):
    """The project, if the session's user may see it now: the user is read fresh each time (signed out,
    disabled, or without the second factor their studio requires: None), then the one scope resolver
    finds the project the URL names and asks the policy (quietly: a socket closes, it answers no 404)."""
    user = session_user(session_key)
    if user is None:
        return None, None, frozenset()
    project = scope.resolve_quietly(user, ProjectConsumer.url_scope, {"project_id": project_id}, ProjectConsumer.policy_action)
    if project is None:
        return None, None, frozenset()
    allowed = frozenset(action for action in set(EVENT_ACTIONS.values()) | {Action.FOOTAGE_VIEW} if can(user, action, project))
    return project, user, allowed


class ProjectConsumer(AsyncJsonWebsocketConsumer):
    # What the socket is about and what it needs, asked through the one resolver (access/scope.py).
    url_scope = scope.PROJECT_ID
    policy_action = Action.PROJECT_VIEW

    async def connect(self):
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        project, user, self.allowed = await _load_allowed_project(self.session_key, project_id)
        if project is None:
            # Same answer for "does not exist", "not yours" and "not signed in": close before accepting.
            await self.close(code=4404)
            return
        self.project_id = project.pk
        self.group = project_group(project.pk)
        self.user_group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "project": project.pk})

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(self.user_group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            # The page pings every few seconds: access is checked again (a removed member or a
            # suspended studio loses the stream), and the group joined again, which is harmless
            # when still a member and repairs the membership a restarted Redis forgot.
            if not await self._still_allowed():
                return
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.send_json({"type": "pong"})

    async def _still_allowed(self) -> bool:
        project, _user, allowed = await _load_allowed_project(self.session_key, self.project_id)
        if project is not None:
            self.allowed = allowed
        if project is None:
            await self.send_json({"type": "access.revoked"})
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(self.user_group, self.channel_name)
            await self.close(code=4403)
            return False
        return True

    async def project_access_changed(self, event):
        """Someone's membership changed or the studio was suspended: check this socket's user again."""
        await self._still_allowed()

    async def dispatch(self, message):
        # Channels runs close_old_connections() before every handler, each time a hop through the one
        # thread-sensitive sync thread. project_event touches no database, and it runs once per open
        # socket per event: with 200 sockets on a project those hops made a single server fall seconds
        # behind (bench/live_latency.py). Events skip it; connect, receive and disconnect keep it.
        if message.get("type") == "project.event":
            await self.project_event(message)
            return
        await super().dispatch(message)

    async def project_event(self, event):
        payload = event["payload"]
        if event_action(str(payload.get("type", ""))) not in self.allowed:
            return  # the policy HTTP asks for this row says no
        await self.send_json(payload)
