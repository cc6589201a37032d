"""The Peer protocol between the two control processors: replication, images, status."""
