package main

const nodeEnv = "GOTRIO_CLUSTER_NODE"
