# PyPI ROS wheels export include paths of the machine that built them (/opt/python/...);
# CMake refuses imported targets that name non-existent directories. Drop such entries
# from every imported target of the including directory. A normal ROS install has none,
# so this is a no-op there. Include it after rosidl_generate_interfaces().
get_property(_imported_targets DIRECTORY PROPERTY IMPORTED_TARGETS)
foreach(_target IN LISTS _imported_targets)
  get_target_property(_dirs ${_target} INTERFACE_INCLUDE_DIRECTORIES)
  if(_dirs)
    set(_kept "")
    foreach(_dir IN LISTS _dirs)
      if(_dir MATCHES "^\\$<" OR EXISTS "${_dir}")
        list(APPEND _kept "${_dir}")
      endif()
    endforeach()
    set_target_properties(${_target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_kept}")
  endif()
endforeach()
