"Developer tools of the foundations project (not part of the library): the docs site builder and notebook helpers."
