# Turns a data file into a C++ source defining `const char NAME[]` (NUL-ended)
# and `const unsigned long NAME_size`. Usage: cmake -DIN=... -DOUT=... -DNAME=... -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" len)
math(EXPR size "${len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "(char)0x\\1," bytes "${hex}")
file(WRITE "${OUT}" "// Generated from ${IN}; do not edit.\nextern const char ${NAME}[];\nextern const unsigned long ${NAME}_size;\nconst char ${NAME}[] = {${bytes}0x00};\nconst unsigned long ${NAME}_size = ${size};\n")
