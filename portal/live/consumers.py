"""One websocket per project. Thin: authenticate, ask the policy, join the project's group."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from portal.access.policy import Action, can


def project_group(project_id: int) -> str:
    return f"project.{project_id}"


@database_sync_to_async
def _load_allowed_project(user, project_id: int):
    from portal.projects.models import Project

    project = Project.objects.select_related("studio").filter(pk=project_id).first()
    if project is None or not can(user, Action.PROJECT_VIEW, project):
        return None
    return project


class ProjectConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        project = await _load_allowed_project(user, project_id)
        if project is None:
            # Same answer for "does not exist" and "not yours": close before accepting.
            await self.close(code=4404)
            return
        self.project_id = project.pk
        self.group = project_group(project.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "project": project.pk})

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

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
        project = await _load_allowed_project(self.scope.get("user"), self.project_id)
        if project is None:
            await self.send_json({"type": "access.revoked"})
            await self.channel_layer.group_discard(self.group, self.channel_name)
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
        await self.send_json(event["payload"])
