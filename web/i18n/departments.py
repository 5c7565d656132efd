"""Words of departmental sub-centers (分中心): department tasks (协办), their states, triggers and events."""

from __future__ import annotations

ZH: dict[str, str] = {
    # Department task states (state_machines/department_task.py)
    "department_task_state.sent": "待接收",
    "department_task_state.accepted": "已接收",
    "department_task_state.done": "已办结",
    "department_task_state.declined": "已退回",
    "department_task_state.cancelled": "已撤销",
    # What a sub-center's dispatcher sends (escalate and cancel are the server's)
    "department_task_trigger.accept": "接收",
    "department_task_trigger.decline": "退回",
    "department_task_trigger.complete": "办结",
    "department_task_trigger.escalate": "超时上报市中心",
    "department_task_trigger.cancel": "撤销",
    # Events
    "event.department_task_sent": "协办任务已派发",
    "event.department_task_accepted": "协办部门已接收",
    "event.department_task_declined": "协办部门退回",
    "event.department_task_completed": "协办部门办结",
    "event.department_task_escalated": "协办超时未接收，已上报市中心",
    "event.department_task_cancelled": "协办任务撤销",
    # The city's consoles' alarm, and the refusal of a resolve
    "alarm.department_task_escalated": "协办部门超时未接收，请市中心督办",
    "error.department_part_open": "协办部门的任务尚未办结，暂不能办结事件",
    "role.department_dispatcher": "分中心调度员",
}

EN: dict[str, str] = {
    "department_task_state.sent": "Sent",
    "department_task_state.accepted": "Accepted",
    "department_task_state.done": "Done",
    "department_task_state.declined": "Declined",
    "department_task_state.cancelled": "Cancelled",
    "department_task_trigger.accept": "Accept",
    "department_task_trigger.decline": "Decline",
    "department_task_trigger.complete": "Complete",
    "department_task_trigger.escalate": "Escalated to the city center",
    "department_task_trigger.cancel": "Cancel",
    "event.department_task_sent": "Department task sent",
    "event.department_task_accepted": "Department accepted",
    "event.department_task_declined": "Department declined",
    "event.department_task_completed": "Department completed its part",
    "event.department_task_escalated": "Department task not accepted in time: escalated to the city",
    "event.department_task_cancelled": "Department task cancelled",
    "alarm.department_task_escalated": "A department did not accept in time: the city center must follow up",
    "error.department_part_open": "A co-handling department's part is still open",
    "role.department_dispatcher": "Sub-center dispatcher",
}

STRINGS = {"zh-CN": ZH, "en": EN}
