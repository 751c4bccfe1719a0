enum NetlinkPlaceholder {}
