"""Click commands, one module per stage of the journey (registered in edgeposinv.cli)."""
