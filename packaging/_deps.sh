# Shared by packaging/test and scripts/test, sourced: `ensure_x_tools` makes sure the launch
# test can run: Xvfb, xdotool, xprop, and the X libraries Qt's xcb plugin loads (PyInstaller bundles
# them from this machine). Installs what is missing with apt-get when run as root, else says
# what to install.
x_packages=(xvfb xdotool x11-utils libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-render-util0
            libxcb-image0 libxkbcommon-x11-0)
x_libraries=(libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1 libxcb-shape.so.0 libxcb-render-util.so.0
             libxcb-image.so.0 libxkbcommon-x11.so.0)

_x_tools_missing() {
    local tool lib known
    for tool in Xvfb xdotool xprop; do command -v "$tool" >/dev/null || return 0; done
    known="$(/sbin/ldconfig -p)"
    for lib in "${x_libraries[@]}"; do grep -qF "$lib" <<<"$known" || return 0; done
    return 1
}

ensure_x_tools() {
    _x_tools_missing || return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing ${x_packages[*]} for the packaging test"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q "${x_packages[@]}" >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null && apt-get install -y -q "${x_packages[@]}" >/dev/null; }
        _x_tools_missing || return 0
    fi
    echo "The packaging test needs Xvfb, xdotool, xprop and Qt's X libraries: install them" \
         "(Debian, Ubuntu: sudo apt-get install ${x_packages[*]}) and run this again." >&2
    return 1
}
