"""gnoi.system.System: Time, SwitchControlProcessor, Reboot, RebootStatus and CancelReboot."""
