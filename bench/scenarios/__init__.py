"""The WebSocket and MQTT scenarios, composed of the harness and the workloads by bench.ws and bench.mqtt."""
