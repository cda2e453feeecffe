"""claude-agent-sdk compatibility: its options mapped or refused, its hook callbacks adapted."""
